//! The demo's webhook burst: DrChrono changes announced by signed webhooks, Deep Cura notes as
//! encrypted gridhooks, and one note that arrives before its clinical note.

use serde_json::json;
use sim::data::Resource;
use sim::webhooks::{DeepCuraGridhooks, DrChronoWebhooks, note_for_appointment};

use super::{DEEPCURA_SECRET, Demo, WEBHOOK_SECRET};

/// What the burst sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sent {
    /// DrChrono webhook deliveries.
    pub drchrono: usize,
    /// Deep Cura gridhooks.
    pub deepcura: usize,
}

/// Sends the burst to the server at `base`.
pub async fn send(demo: &Demo, base: &str) -> anyhow::Result<Sent> {
    let http = crate::source::http_client(std::time::Duration::from_secs(10));
    let dr = demo.drchrono.state();
    let mut hooks = DrChronoWebhooks::new(WEBHOOK_SECRET, 7);
    let mut grid = DeepCuraGridhooks::new(DEEPCURA_SECRET, 7);
    let mut sent = Sent::default();
    let post = |req: sim::webhooks::WebhookRequest| {
        let http = http.clone();
        async move {
            let resp = req.send(&http, base).await?;
            anyhow::ensure!(
                resp.status().is_success(),
                "the server answered {}",
                resp.status()
            );
            Ok::<(), anyhow::Error>(())
        }
    };
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
    if let Some(req) = hooks.deliver_record(dr, Resource::Appointments, &appt["id"], true) {
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
