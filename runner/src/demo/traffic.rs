//! The demo's traffic: DrChrono changes announced by signed webhooks, Deep Cura notes as
//! encrypted gridhooks (one arrives before its clinical note); then what comes back from
//! people: questionnaire responses from the patient app and the email processor, and staff
//! ticking an intake checklist in Coda (its automation's write-back).

use serde_json::json;
use sim::data::Resource;
use sim::webhooks::{
    DeepCuraGridhooks, DrChronoWebhooks, Identity, QuestionnaireSender, note_for_appointment,
    phq9_for_patient,
};

use super::{DEEPCURA_SECRET, Demo, INBOUND_SECRET, WEBHOOK_SECRET, WRITEBACK_SECRET};

/// What the burst sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sent {
    /// DrChrono webhook deliveries.
    pub drchrono: usize,
    /// Deep Cura gridhooks.
    pub deepcura: usize,
}

/// What people sent back.
#[derive(Debug, Clone, Copy, Default)]
pub struct FromPeople {
    /// Questionnaire responses posted to the inbound route.
    pub questionnaires: usize,
    /// Write-back PATCHes from Coda automations.
    pub writebacks: usize,
}

/// Sends `req` to the server at `base`; anything but a success is an error.
async fn post(
    http: &reqwest::Client,
    base: &str,
    req: sim::webhooks::WebhookRequest,
) -> anyhow::Result<()> {
    let resp = req.send(http, base).await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "the server answered {}",
        resp.status()
    );
    Ok(())
}

/// Sends the burst to the server at `base`.
pub(super) async fn send(demo: &Demo, base: &str) -> anyhow::Result<Sent> {
    let http = crate::source::http_client(std::time::Duration::from_secs(10));
    let dr = demo.drchrono.state();
    let mut hooks = DrChronoWebhooks::new(WEBHOOK_SECRET, 7);
    let mut grid = DeepCuraGridhooks::new(DEEPCURA_SECRET, 7);
    let mut sent = Sent::default();
    let post = |req| post(&http, base, req);
    // A few patients change their phone number and a few appointments are confirmed.
    for p in dr.records(Resource::Patients).iter().take(5) {
        dr.update_record(
            Resource::Patients,
            &p["id"],
            json!({"cell_phone": "(555) 010-0199"}),
        )?;
        if let Some(req) = hooks.deliver_record(dr, Resource::Patients, &p["id"], false) {
            post(req).await?;
            sent.drchrono += 1;
        }
    }
    let appointments = dr.records(Resource::Appointments);
    let notes = dr.records(Resource::ClinicalNotes);
    // Deep Cura notes for appointments that have a clinical note: they link by appointment id.
    for (i, n) in notes.iter().take(8).enumerate() {
        let appt_id = n["appointment"].as_str().unwrap_or_default();
        if let Some(appt) = appointments
            .iter()
            .find(|a| a["id"].as_str() == Some(appt_id))
        {
            post(grid.send(&note_for_appointment(appt, 100 + i as u64))).await?;
            sent.deepcura += 1;
        }
    }
    // A new visit today: its Deep Cura note arrives first (no clinical note yet: review), then
    // the clinical note is signed in DrChrono and its webhook links the waiting note.
    let patient = &dr.records(Resource::Patients)[0];
    let today = chrono::Utc::now().format("%Y-%m-%dT09:00:00").to_string();
    let appt = dr.create_record(
        Resource::Appointments,
        json!({"patient": patient["id"], "doctor": patient["doctor"], "scheduled_time": today, "duration": 50, "status": "Complete", "reason": "Follow-up (demo)"}),
    )?;
    if let Some(req) = hooks.deliver_record(
        dr,
        Resource::Appointments,
        appt["id"].as_str().unwrap_or_default(),
        true,
    ) {
        post(req).await?;
        sent.drchrono += 1;
    }
    post(grid.send(&note_for_appointment(&appt, 999))).await?;
    sent.deepcura += 1;
    let note = dr.create_record(
        Resource::ClinicalNotes,
        json!({"appointment": appt["id"], "patient": patient["id"].to_string(), "locked": true, "archived": false}),
    )?;
    post(hooks.deliver("CLINICAL_NOTE_LOCK", note)).await?;
    sent.drchrono += 1;
    // DrChrono redelivers an old payload an hour later: the version guard keeps the newer row.
    if let Some(first) = hooks.deliveries().first().map(|d| d.id.clone())
        && let Some(req) = hooks.redeliver(&first)
    {
        post(req).await?;
    }
    post(hooks.ping()).await?;
    sent.drchrono += 1;
    Ok(sent)
}

/// Two patients answer a PHQ-9 (one from the app with their DrChrono id, one by email with
/// email and birth date), and a staff member completes the intake checklist of the first
/// patient's latest appointment in Coda, whose automation PATCHes it back.
pub(super) async fn from_people(
    demo: &Demo,
    base: &str,
    staff: &str,
) -> anyhow::Result<FromPeople> {
    let http = crate::source::http_client(std::time::Duration::from_secs(10));
    let patients = demo.drchrono.state().records(Resource::Patients);
    let sender = QuestionnaireSender::new(INBOUND_SECRET);
    let mut out = FromPeople::default();
    for (i, (p, who)) in patients
        .iter()
        .zip([Identity::DrChronoId, Identity::EmailAndBirthDate])
        .enumerate()
    {
        post(
            &http,
            base,
            sender.send(&phq9_for_patient(p, who, 40 + i as u64)),
        )
        .await?;
        out.questionnaires += 1;
    }
    let appointment: uuid::Uuid = sqlx::query_scalar(
        "select id from appointments where deleted_at is null order by scheduled_time desc nulls last, id limit 1",
    )
    .fetch_one(&demo.state.pool)
    .await?;
    let resp = http
        .patch(format!("{base}/api/intake/{appointment}"))
        .header("x-coda-webhook-secret", WRITEBACK_SECRET)
        .header("x-coda-user-email", staff)
        .json(&json!({"forms_received": true, "insurance_verified": true, "consent_signed": true, "status": "complete"}))
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "the write-back answered {}",
        resp.status()
    );
    out.writebacks += 1;
    Ok(out)
}
