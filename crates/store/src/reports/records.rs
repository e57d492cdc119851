//! The records the reporting rollup counts, read by id (the records a batch of events names) or all
//! of them (a recomputation), and turned into the domain's facts (`recoup_domain::report`). The
//! SQL is written once with the filter as a parameter: `ids` binds a JSON array of ids, `all`
//! binds 0 and reads every id above it.

use chrono::{DateTime, NaiveDate, Utc};
use recoup_domain::report::{
    CallRecord, DisputeRecord, Facts, Filing, JudgedPromise, PastCall, PastPlan, PlanRecord,
    call_facts, dispute_facts, plan_facts, promise_facts,
};

use crate::StoreError;

/// How a read picks its rows: `$1` is the filter's parameter.
pub(crate) fn by_ids(pg: bool, column: &str) -> String {
    format!("{column} IN ({})", crate::sets::ids(pg, 1))
}

/// Every row (`$1` bound to 0).
#[cfg(feature = "testkit")]
pub(crate) fn every(column: &str) -> String {
    format!("{column} > $1")
}

/// A call and where it is filed.
pub(crate) type CallRow = (
    i64,            // id
    String,         // agent
    bool,           // outbound
    bool,           // right party
    DateTime<Utc>,  // start
    Option<i64>,    // promised
    Option<i64>,    // corrects
    Option<String>, // breaches (JSON [[rule, detail], …])
    String,         // queue
    String,         // currency
);

pub(crate) fn calls_sql(filter: &str) -> String {
    format!(
        "SELECT c.id, c.agent, c.direction = 'outbound', c.right_party, c.start_time, \
         c.promise_minor, c.corrects, c.breaches, a.queue, a.currency_code \
         FROM calls c JOIN accounts a ON a.id = c.account_id WHERE {filter}"
    )
}

pub(crate) fn call_record(r: &CallRow) -> Result<CallRecord, StoreError> {
    let breaches = match &r.7 {
        None => Vec::new(),
        Some(text) => {
            let rows: Vec<(String, String)> = serde_json::from_str(text)
                .map_err(|_| StoreError::Corrupt(format!("call breaches: {text}")))?;
            rows.into_iter().map(|(rule, _)| rule).collect()
        }
    };
    Ok(CallRecord {
        start_time: r.4,
        agent: r.1.clone(),
        outbound: r.2,
        right_party: r.3,
        promise_minor: r.5,
        breaches,
    })
}

/// A call's facts (as a current call).
pub(crate) fn call_row_facts(
    r: &CallRow,
    zone: chrono_tz::Tz,
    out: &mut Facts,
) -> Result<(), StoreError> {
    let filing = Filing {
        queue: &r.8,
        currency: &r.9,
        zone,
    };
    call_facts(&call_record(r)?, &filing, out);
    Ok(())
}

/// A payment and where it is filed.
pub(crate) type PaymentRow = (
    i64,           // id
    i64,           // account
    i64,           // amount
    NaiveDate,     // dated
    DateTime<Utc>, // recorded
    String,        // queue
    String,        // currency
);

pub(crate) fn payments_sql(filter: &str) -> String {
    format!(
        "SELECT p.id, p.account_id, p.amount_minor, p.payment_date, p.create_time, a.queue, \
         a.currency_code FROM payments p JOIN accounts a ON a.id = p.account_id WHERE {filter}"
    )
}

/// What attribution reads of an account's calls: those that promised or correct another.
pub(crate) type PastCallRow = (
    i64,
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    bool,
    Option<i64>,
);

const PAST_CALLS: &str = "x.account_id, x.id, x.start_time, x.create_time, x.agent, \
     x.promise_minor IS NOT NULL, x.corrects";
const PROMISING: &str = "(x.promise_minor IS NOT NULL OR x.corrects IS NOT NULL)";

/// Every account's calls that promised or correct another (`$1` bound to 0).
#[cfg(feature = "testkit")]
pub(crate) fn every_past_call_sql() -> String {
    format!("SELECT {PAST_CALLS} FROM calls x WHERE x.account_id > $1 AND {PROMISING}")
}

/// The calls that promised or correct another of the accounts in the JSON array `$1`.
pub(crate) fn past_calls_sql(pg: bool) -> String {
    of_accounts(pg, PAST_CALLS, "calls", PROMISING)
}

/// `columns` of `table`'s rows (aliased `x`) meeting `condition`, for the accounts in the JSON
/// array `$1`. On PostgreSQL each account is probed through the table's account index (a lateral
/// join, kept one by `OFFSET 0`): planned without the array's size, a join would hash the whole
/// table.
fn of_accounts(pg: bool, columns: &str, table: &str, condition: &str) -> String {
    if pg {
        format!(
            "SELECT {columns} FROM (SELECT DISTINCT CAST(r.value AS BIGINT) AS id FROM {}) k \
             CROSS JOIN LATERAL (SELECT * FROM {table} y WHERE y.account_id = k.id OFFSET 0) x \
             WHERE {condition}",
            crate::sets::rows(pg, 1)
        )
    } else {
        format!(
            "SELECT {columns} FROM {table} x WHERE x.account_id IN ({}) AND {condition}",
            crate::sets::ids(pg, 1)
        )
    }
}

pub(crate) fn past_call(r: &PastCallRow) -> PastCall {
    PastCall {
        id: r.1,
        start_time: r.2,
        create_time: r.3,
        agent: r.4.clone(),
        promised: r.5,
        corrects: r.6,
    }
}

pub(crate) type PastPlanRow = (i64, DateTime<Utc>, Option<DateTime<Utc>>, String);

const PAST_PLANS: &str = "x.account_id, x.create_time, x.end_time, x.proposed_by";

/// Every account's plans (`$1` bound to 0).
#[cfg(feature = "testkit")]
pub(crate) fn every_past_plan_sql() -> String {
    format!("SELECT {PAST_PLANS} FROM plans x WHERE x.account_id > $1")
}

/// The plans of the accounts in the JSON array `$1`.
pub(crate) fn past_plans_sql(pg: bool) -> String {
    of_accounts(pg, PAST_PLANS, "plans", "TRUE")
}
pub(crate) fn past_plan(r: &PastPlanRow) -> PastPlan {
    PastPlan {
        create_time: r.1,
        end_time: r.2,
        proposed_by: r.3.clone(),
    }
}

/// A promise's stored state with its call's agent and amount.
pub(crate) type PromiseRow = (i64, String, i64, DateTime<Utc>, String, i64, String, String);

pub(crate) fn promises_sql(filter: &str) -> String {
    format!(
        "SELECT s.call_id, s.state, s.paid_minor, s.update_time, c.agent, \
         COALESCE(c.promise_minor, 0), a.queue, a.currency_code FROM promise_states s \
         JOIN calls c ON c.id = s.call_id JOIN accounts a ON a.id = c.account_id WHERE {filter}"
    )
}

pub(crate) fn promise_row_facts(r: &PromiseRow, zone: chrono_tz::Tz) -> (String, Facts) {
    let mut out = Facts::default();
    let filing = Filing {
        queue: &r.6,
        currency: &r.7,
        zone,
    };
    let p = JudgedPromise {
        state: r.1.clone(),
        judged: r.3,
        agent: r.4.clone(),
        promised_minor: r.5,
        paid_minor: r.2,
    };
    promise_facts(&p, &filing, &mut out);
    (format!("promises/{}", r.0), out)
}

pub(crate) type PlanRow = (
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    String,
    String,
);

pub(crate) fn plans_sql(filter: &str) -> String {
    format!(
        "SELECT p.id, p.state, p.proposed_by, p.create_time, p.approve_time, p.approved_by, \
         p.sign_time, p.end_time, a.queue, a.currency_code \
         FROM plans p JOIN accounts a ON a.id = p.account_id WHERE {filter}"
    )
}

pub(crate) fn plan_row_facts(r: &PlanRow, zone: chrono_tz::Tz) -> (String, Facts) {
    let mut out = Facts::default();
    let filing = Filing {
        queue: &r.8,
        currency: &r.9,
        zone,
    };
    let p = PlanRecord {
        state: r.1.clone(),
        proposed_by: r.2.clone(),
        create_time: r.3,
        approved: r.4.zip(r.5.clone()),
        sign_time: r.6,
        end_time: r.7,
    };
    plan_facts(&p, &filing, &mut out);
    (format!("plans/{}", r.0), out)
}

pub(crate) type DisputeRow = (
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    String,
    String,
);

pub(crate) fn disputes_sql(filter: &str) -> String {
    format!(
        "SELECT d.id, d.state, d.raised_by, d.raise_time, d.resolve_time, d.resolved_by, \
         a.queue, a.currency_code FROM disputes d JOIN accounts a ON a.id = d.account_id \
         WHERE {filter}"
    )
}

pub(crate) fn dispute_row_facts(r: &DisputeRow, zone: chrono_tz::Tz) -> (String, Facts) {
    let mut out = Facts::default();
    let filing = Filing {
        queue: &r.6,
        currency: &r.7,
        zone,
    };
    let d = DisputeRecord {
        state: r.1.clone(),
        raised_by: r.2.clone(),
        raise_time: r.3,
        resolved: r.4.zip(r.5.clone()),
    };
    dispute_facts(&d, &filing, &mut out);
    (format!("disputes/{}", r.0), out)
}

/// Facts as JSON rows `[day, agent, queue, currency, measure, detail, count, amount]`: how they
/// are kept in `report_seen` and how a fold's delta travels to its upsert.
pub(crate) fn fact_rows(f: &Facts) -> Vec<serde_json::Value> {
    f.0.iter()
        .map(|(k, t)| {
            serde_json::json!([
                k.day.to_string(),
                k.agent,
                k.queue,
                k.currency,
                k.measure.as_str(),
                k.detail,
                t.count,
                t.amount_minor
            ])
        })
        .collect()
}

pub(crate) fn facts_json(f: &Facts) -> String {
    serde_json::Value::Array(fact_rows(f)).to_string()
}

pub(crate) fn facts_from_json(text: &str) -> Result<Facts, StoreError> {
    type Row = (String, String, String, String, String, String, i64, i64);
    let bad = || StoreError::Corrupt(format!("report_seen facts: {text}"));
    let rows: Vec<Row> = serde_json::from_str(text).map_err(|_| bad())?;
    let mut out = Facts::default();
    for (day, agent, queue, currency, measure, detail, count, amount) in rows {
        let key = recoup_domain::report::FactKey {
            day: day.parse().map_err(|_| bad())?,
            agent,
            queue,
            currency,
            measure: recoup_domain::report::Measure::parse(&measure).ok_or_else(bad)?,
            detail,
        };
        out.add(key, count, amount);
    }
    Ok(out)
}
