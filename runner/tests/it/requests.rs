//! The DrChrono request budget: a backfill with the shipped config asks for the largest page
//! each endpoint returns, so it makes no more list requests than `ceil(records / page)` per
//! endpoint (per date window for appointments), counted by the simulator.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use runner::config::page_size::drchrono_max_page;
use runner::source::RestClient;
use runner::sync::{NoProgress, SyncOptions, run_pipeline, segments};
use serde_json::Value;
use sim::data::Resource;
use sqlx::PgPool;

use crate::common;

/// Requests a listing of `records` records needs in pages of `page` (an empty one still asks).
fn pages(records: usize, page: u32) -> u64 {
    records.div_ceil(page as usize).max(1) as u64
}

fn scheduled_day(appointment: &Value) -> Option<NaiveDate> {
    appointment["scheduled_time"]
        .as_str()
        .and_then(|s| s.get(..10))
        .and_then(|d| d.parse().ok())
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_backfill_makes_at_most_one_request_per_full_page_of_each_endpoint(pool: PgPool) {
    let sim = common::drchrono(300).await;
    let plan = common::plan(sim.url());
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let opts = SyncOptions {
        full: true,
        trigger: "test".into(),
        ..SyncOptions::default()
    };
    let today = chrono::Utc::now().date_naive();
    let mut bound: BTreeMap<String, u64> = BTreeMap::new();
    for p in plan
        .pipelines
        .iter()
        .filter(|p| p.file.source.endpoint.is_some())
    {
        let src = &p.file.source;
        let endpoint = src.endpoint.clone().unwrap_or_default();
        let resource = Resource::from_path(endpoint.trim_start_matches("/api/")).unwrap();
        let page = src.page_size.unwrap_or(plan.systems.drchrono.page_size);
        assert_eq!(
            page,
            drchrono_max_page(&src.params),
            "{endpoint}: the shipped config asks for the largest page"
        );
        let records = sim.state().records(resource);
        let needed: u64 = if resource == Resource::Appointments {
            let live: Vec<NaiveDate> = records
                .iter()
                .filter(|a| a["deleted_flag"].as_bool() != Some(true))
                .filter_map(scheduled_day)
                .collect();
            segments(src, page, None, today)
                .iter()
                .map(|seg| {
                    let range = &seg
                        .params
                        .iter()
                        .find(|(k, _)| k == "date_range")
                        .unwrap()
                        .1;
                    let (a, b) = range.split_once('/').unwrap();
                    let (a, b): (NaiveDate, NaiveDate) = (a.parse().unwrap(), b.parse().unwrap());
                    pages(live.iter().filter(|d| a <= **d && **d <= b).count(), page)
                })
                .sum()
        } else {
            pages(records.len(), page)
        };
        *bound.entry(endpoint).or_default() += needed;
    }
    sim.state().reset_stats();
    for p in plan
        .pipelines
        .iter()
        .filter(|p| p.file.source.endpoint.is_some())
    {
        let r = run_pipeline(&pool, &client, &plan, p, &opts, &NoProgress).await;
        assert!(r.error.is_none(), "{}: {:?}", r.pipeline, r.error);
    }
    let stats = sim.state().stats();
    for (endpoint, most) in &bound {
        let made = stats.requests(endpoint);
        assert!(made > 0, "{endpoint} was listed");
        assert!(
            made <= *most,
            "{endpoint}: {made} requests for at most {most} pages"
        );
    }
    let listed: u64 = bound.keys().map(|e| stats.requests(e)).sum();
    let token = stats.requests("/o/token/");
    assert_eq!(
        stats.requests_total,
        listed + token,
        "only list requests (and the token refresh): {:?}",
        stats.requests_by_path
    );
}
