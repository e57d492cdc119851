//! The rollup recomputed from every record, for checking the incremental fold against it (tests
//! and the bench's verification): the same domain rules, read from the tables rather than the feed.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use recoup_domain::policy::ReportingPolicy;
use recoup_domain::report::{AgentDay, Facts};

use super::records::*;
use super::{Store, StoreError, payment_facts, work};
use crate::with_reader;

impl Store {
    /// Every record's facts and the agents' working days, computed from the records themselves.
    pub async fn report_recomputed(
        &self,
        policy: &ReportingPolicy,
    ) -> Result<(Facts, Vec<AgentDay>), StoreError> {
        let zone = policy.time_zone;
        let mut facts = Facts::default();
        let mut days = BTreeMap::new();
        with_reader!(&self.backend, |pool, pg| {
            let calls: Vec<CallRow> = rows!(pool, calls_sql(&every("c.id")), 0_i64);
            let corrected: std::collections::HashSet<i64> =
                calls.iter().filter_map(|r| r.6).collect();
            for r in &calls {
                work(&mut days, r, zone);
                if !corrected.contains(&r.0) {
                    call_row_facts(r, zone, &mut facts)?;
                }
            }
            let payments: Vec<PaymentRow> = rows!(pool, payments_sql(&every("p.id")), 0_i64);
            let past: Vec<PastCallRow> = rows!(pool, every_past_call_sql(), 0_i64);
            let plans: Vec<PastPlanRow> = rows!(pool, every_past_plan_sql(), 0_i64);
            payment_facts(&payments, &past, &plans, policy, &mut facts);
            let promises: Vec<PromiseRow> = rows!(pool, promises_sql(&every("s.call_id")), 0_i64);
            for r in &promises {
                facts.merge(&promise_row_facts(r, zone).1, 1);
            }
            let plans: Vec<PlanRow> = rows!(pool, plans_sql(&every("p.id")), 0_i64);
            for r in &plans {
                facts.merge(&plan_row_facts(r, zone).1, 1);
            }
            let disputes: Vec<DisputeRow> = rows!(pool, disputes_sql(&every("d.id")), 0_i64);
            for r in &disputes {
                facts.merge(&dispute_row_facts(r, zone).1, 1);
            }
        });
        Ok((facts, agent_days(days)))
    }

    /// The whole rollup as stored (every day).
    pub async fn report_stored(&self) -> Result<(Facts, Vec<AgentDay>), StoreError> {
        let from = NaiveDate::from_ymd_opt(1, 1, 1).expect("a date");
        let to = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a date");
        let mut facts = Facts::default();
        for (k, t) in self.report_facts(from, to).await? {
            facts.add(k, t.count, t.amount_minor);
        }
        let mut days = self.report_agent_days(from, to).await?;
        days.sort_by(|a, b| (a.day, &a.agent).cmp(&(b.day, &b.agent)));
        Ok((facts, days))
    }
}

fn agent_days(days: BTreeMap<(NaiveDate, String), (i64, i64, i64)>) -> Vec<AgentDay> {
    days.into_iter()
        .map(|((day, agent), (first, last, calls))| AgentDay {
            day,
            agent,
            first: chrono::DateTime::from_timestamp_micros(first).expect("a stored call time"),
            last: chrono::DateTime::from_timestamp_micros(last).expect("a stored call time"),
            calls,
        })
        .collect()
}
