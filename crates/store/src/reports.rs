//! The reporting rollup (migration 0023): a background pass folds the event feed into
//! `report_facts` and `report_agent_days`, one transaction per batch of events that also moves the
//! rollup's position, so a crash (or a replica folding at the same time) never counts an event
//! twice or not at all. An event names its record; the fold reads the record as it stands and
//! counts its facts (`recoup_domain::report`). Calls and payments never change, so theirs are added
//! once (a correction takes its original's back). Plans, disputes and promise judgements change,
//! so what each last contributed is kept in `report_seen` and taken back before the new facts are
//! added: the rollup always equals the facts of the records as they stand, which is what a
//! recomputation from the records gives. `book` keeps the book's daily position.

pub(crate) mod book;
pub(crate) mod records;

pub use book::Book;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use recoup_domain::policy::ReportingPolicy;
use recoup_domain::report::{AgentDay, FactKey, Facts, Filing, Measure, Tally, attribute};
use serde_json::json;

use records::*;

use crate::{Store, StoreError, retrying, with_reader, with_writer};

/// The events after the rollup's position (`$1`), at most `$2`.
pub(crate) const EVENTS_SQL: &str =
    "SELECT id, event_type, resource FROM events WHERE id > $1 ORDER BY id LIMIT $2";

/// The feed's head and the rollup's position and settings, in one statement.
pub(crate) const LAG_SQL: &str = "SELECT (SELECT MAX(id) FROM events), \
     (SELECT event_id FROM report_position), (SELECT time_zone FROM report_position), \
     (SELECT attribution_days FROM report_position)";

/// The rollup's facts dated `$1..=$2`.
pub(crate) const FACTS_SQL: &str = "SELECT day, agent, queue, currency, measure, detail, count, \
     amount_minor FROM report_facts WHERE day >= $1 AND day <= $2";

/// The agents' working days `$1..=$2`.
pub(crate) const AGENT_DAYS_SQL: &str = "SELECT day, agent, first_start, last_start, calls \
     FROM report_agent_days WHERE day >= $1 AND day <= $2";

/// What the records named in the JSON array `$1` last contributed, each found by its key.
pub(crate) fn seen_sql(pg: bool) -> String {
    format!(
        "SELECT s.resource, s.facts FROM {} JOIN report_seen s ON s.resource = {}",
        crate::sets::rows(pg, 1),
        crate::sets::scalar(pg)
    )
}

/// Events folded per transaction: bounded, so the writer is never held long.
pub const FOLD_BATCH: i64 = 2000;

/// Runs `$sql` (a filter's SQL) with `$bind` as `$1` and returns its rows.
macro_rules! rows {
    ($conn:expr, $sql:expr, $bind:expr) => {
        sqlx::query_as(sqlx::AssertSqlSafe($sql))
            .bind($bind)
            .fetch_all($conn)
            .await?
    };
}

/// An event's record, by the kind of change.
#[derive(Default)]
struct Named {
    calls: BTreeSet<i64>,
    payments: BTreeSet<i64>,
    promises: BTreeSet<i64>,
    plans: BTreeSet<i64>,
    disputes: BTreeSet<i64>,
}

impl Named {
    fn of(events: &[(i64, String, String)]) -> Self {
        let mut n = Named::default();
        for (_, kind, resource) in events {
            let id = || {
                resource
                    .rsplit('/')
                    .next()
                    .and_then(|s| s.parse::<i64>().ok())
            };
            let set = match kind.as_str() {
                "call_recorded" => &mut n.calls,
                "payment_recorded" => &mut n.payments,
                "promise_changed" => &mut n.promises,
                "plan_changed" => &mut n.plans,
                "dispute_changed" => &mut n.disputes,
                _ => continue,
            };
            set.extend(id());
        }
        n
    }
}

fn json_ids(ids: impl IntoIterator<Item = i64>) -> String {
    serde_json::Value::from(ids.into_iter().collect::<Vec<_>>()).to_string()
}

/// Microseconds since the epoch: how agent days keep their first and last call (one integer type
/// on both backends, compared by `MIN`/`MAX`).
fn micros(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

/// Adds call `r`'s start to the agents' working days.
fn work(
    days: &mut BTreeMap<(NaiveDate, String), (i64, i64, i64)>,
    r: &CallRow,
    zone: chrono_tz::Tz,
) {
    let day = r.4.with_timezone(&zone).date_naive();
    let at = micros(r.4);
    let e = days.entry((day, r.1.clone())).or_insert((at, at, 0));
    e.0 = e.0.min(at);
    e.1 = e.1.max(at);
    e.2 += 1;
}

/// Payments' facts: each credited by `attribute` from its account's promising calls and plans.
fn payment_facts(
    payments: &[PaymentRow],
    calls: &[PastCallRow],
    plans: &[PastPlanRow],
    policy: &ReportingPolicy,
    out: &mut Facts,
) {
    let mut calls_of: HashMap<i64, Vec<_>> = HashMap::new();
    for c in calls {
        calls_of.entry(c.0).or_default().push(past_call(c));
    }
    let mut plans_of: HashMap<i64, Vec<_>> = HashMap::new();
    for p in plans {
        plans_of.entry(p.0).or_default().push(past_plan(p));
    }
    for p in payments {
        let by = attribute(
            p.4,
            policy.attribution_days,
            calls_of.get(&p.1).map_or(&[][..], Vec::as_slice),
            plans_of.get(&p.1).map_or(&[][..], Vec::as_slice),
        );
        let filing = Filing {
            queue: &p.5,
            currency: &p.6,
            zone: policy.time_zone,
        };
        recoup_domain::report::payment_facts(p.2, p.3, &by, &filing, out);
    }
}

/// Adds `$delta` to the rollup's facts and `$days` to its agent days, one statement each.
macro_rules! write_facts {
    ($tx:expr, $pg:expr, $delta:expr, $days:expr) => {{
        let (delta, days): (&Facts, &BTreeMap<(NaiveDate, String), (i64, i64, i64)>) =
            ($delta, $days);
        use crate::sets::{date, int, rows, text};
        if !delta.0.is_empty() {
            let rows_json = records::fact_rows(delta);
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO report_facts (day, agent, queue, currency, measure, detail, count, \
                 amount_minor) SELECT {}, {}, {}, {}, {}, {}, {}, {} FROM {} WHERE TRUE \
                 ON CONFLICT (day, agent, queue, currency, measure, detail) DO UPDATE SET \
                 count = report_facts.count + excluded.count, \
                 amount_minor = report_facts.amount_minor + excluded.amount_minor",
                date($pg, 0),
                text(1),
                text(2),
                text(3),
                text(4),
                text(5),
                int(6),
                int(7),
                rows($pg, 1)
            )))
            .bind(serde_json::Value::Array(rows_json).to_string())
            .execute($tx)
            .await?;
        }
        if !days.is_empty() {
            let rows_json: Vec<_> = days
                .iter()
                .map(|((day, agent), (first, last, calls))| {
                    json!([day.to_string(), agent, first, last, calls])
                })
                .collect();
            let (least, greatest) = if $pg {
                ("LEAST", "GREATEST")
            } else {
                ("MIN", "MAX")
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO report_agent_days (day, agent, first_start, last_start, calls) \
                 SELECT {}, {}, {}, {}, {} FROM {} WHERE TRUE ON CONFLICT (day, agent) DO UPDATE \
                 SET first_start = {least}(report_agent_days.first_start, excluded.first_start), \
                 last_start = {greatest}(report_agent_days.last_start, excluded.last_start), \
                 calls = report_agent_days.calls + excluded.calls",
                date($pg, 0),
                text(1),
                int(2),
                int(3),
                int(4),
                rows($pg, 1)
            )))
            .bind(serde_json::Value::Array(rows_json).to_string())
            .execute($tx)
            .await?;
        }
    }};
}

/// What one fold adds: read from the records without holding the writer, applied in a short write
/// transaction only if the rollup is still where the reads started (`after`).
struct Fold {
    after: i64,
    last: i64,
    events: usize,
    delta: Facts,
    days: BTreeMap<(NaiveDate, String), (i64, i64, i64)>,
    /// What each changing record contributes now, as JSON rows `[resource, facts]`.
    seen: Vec<serde_json::Value>,
}

/// Why a fold's reads did not give a `Fold`.
enum Read {
    /// The rollup is at the feed's head.
    AtHead,
    /// No rollup, or one counted under other settings: it must be started again.
    Restart(bool),
    Ready(Box<Fold>),
}

impl Store {
    /// Folds up to `FOLD_BATCH` events after the rollup's position into it; returns how many were
    /// folded (0: it is at the feed's head). The events and their records are read without the
    /// writer; the write transaction then moves the position only if no other fold (this process's
    /// or another replica's) moved it meanwhile, and the reads are made again if one did. A rollup
    /// counted under other settings (the reporting time zone or attribution window changed) is
    /// emptied and counted again from the first event.
    pub async fn fold_report(&self, policy: &ReportingPolicy) -> Result<usize, StoreError> {
        loop {
            let fold = match self.fold_read(policy).await? {
                Read::AtHead => return Ok(0),
                Read::Restart(was) => {
                    self.report_restart(policy, was).await?;
                    continue;
                }
                Read::Ready(fold) => fold,
            };
            if self.fold_write(&fold).await? {
                return Ok(fold.events);
            }
        }
    }

    /// The next batch's facts, read from the events after the rollup's position and their records.
    async fn fold_read(&self, policy: &ReportingPolicy) -> Result<Read, StoreError> {
        let zone = policy.time_zone;
        let window = i64::from(policy.attribution_days);
        Ok(with_reader!(&self.backend, |pool, pg| {
            let at: Option<(i64, String, i64)> =
                sqlx::query_as("SELECT event_id, time_zone, attribution_days FROM report_position")
                    .fetch_optional(pool)
                    .await?;
            let after = match at {
                Some((id, z, d)) if z == zone.name() && d == window => id,
                _ => return Ok(Read::Restart(at.is_some())),
            };
            let events: Vec<(i64, String, String)> = sqlx::query_as(EVENTS_SQL)
                .bind(after)
                .bind(FOLD_BATCH)
                .fetch_all(pool)
                .await?;
            let Some(last) = events.last().map(|e| e.0) else {
                return Ok(Read::AtHead);
            };
            let named = Named::of(&events);
            let mut delta = Facts::default();
            let mut days = BTreeMap::new();

            // Calls: each added once; a correction takes its original's facts back.
            if !named.calls.is_empty() {
                let calls: Vec<CallRow> = rows!(
                    pool,
                    calls_sql(&by_ids(pg, "c.id")),
                    json_ids(named.calls.iter().copied())
                );
                for r in &calls {
                    call_row_facts(r, zone, &mut delta)?;
                    work(&mut days, r, zone);
                }
                let corrected: Vec<i64> = calls.iter().filter_map(|r| r.6).collect();
                if !corrected.is_empty() {
                    let originals: Vec<CallRow> =
                        rows!(pool, calls_sql(&by_ids(pg, "c.id")), json_ids(corrected));
                    let mut back = Facts::default();
                    for r in &originals {
                        call_row_facts(r, zone, &mut back)?;
                    }
                    delta.merge(&back, -1);
                }
            }

            // Payments: each added once, credited by what was recorded before it.
            if !named.payments.is_empty() {
                let payments: Vec<PaymentRow> = rows!(
                    pool,
                    payments_sql(&by_ids(pg, "p.id")),
                    json_ids(named.payments.iter().copied())
                );
                let accounts = json_ids(payments.iter().map(|p| p.1));
                let calls: Vec<PastCallRow> = rows!(pool, past_calls_sql(pg), &accounts);
                let plans: Vec<PastPlanRow> = rows!(pool, past_plans_sql(pg), &accounts);
                payment_facts(&payments, &calls, &plans, policy, &mut delta);
            }

            // Records that change: their facts now, against what they contributed before.
            let mut now: Vec<(String, Facts)> = Vec::new();
            if !named.promises.is_empty() {
                let rows: Vec<PromiseRow> = rows!(
                    pool,
                    promises_sql(&by_ids(pg, "s.call_id")),
                    json_ids(named.promises.iter().copied())
                );
                now.extend(rows.iter().map(|r| promise_row_facts(r, zone)));
            }
            if !named.plans.is_empty() {
                let rows: Vec<PlanRow> = rows!(
                    pool,
                    plans_sql(&by_ids(pg, "p.id")),
                    json_ids(named.plans.iter().copied())
                );
                now.extend(rows.iter().map(|r| plan_row_facts(r, zone)));
            }
            if !named.disputes.is_empty() {
                let rows: Vec<DisputeRow> = rows!(
                    pool,
                    disputes_sql(&by_ids(pg, "d.id")),
                    json_ids(named.disputes.iter().copied())
                );
                now.extend(rows.iter().map(|r| dispute_row_facts(r, zone)));
            }
            let mut seen = Vec::with_capacity(now.len());
            if !now.is_empty() {
                let names =
                    serde_json::Value::from(now.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>())
                        .to_string();
                let before: Vec<(String, String)> = rows!(pool, seen_sql(pg), &names);
                for (_, facts) in &before {
                    delta.merge(&facts_from_json(facts)?, -1);
                }
                for (name, facts) in &now {
                    delta.merge(facts, 1);
                    seen.push(json!([name, facts_json(facts)]));
                }
            }
            Read::Ready(Box::new(Fold {
                after,
                last,
                events: events.len(),
                delta,
                days,
                seen,
            }))
        }))
    }

    /// Applies `fold` if the rollup is still at its starting position; false if another fold moved
    /// it first (the reads are then stale and are made again).
    async fn fold_write(&self, fold: &Fold) -> Result<bool, StoreError> {
        let seen = serde_json::Value::Array(fold.seen.clone()).to_string();
        retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                let mut tx = if pg {
                    pool.begin().await?
                } else {
                    pool.begin_with("BEGIN IMMEDIATE").await?
                };
                // First, so a second replica's fold waits here for this one's commit and then finds
                // the position moved.
                let moved =
                    sqlx::query("UPDATE report_position SET event_id = $1 WHERE event_id = $2")
                        .bind(fold.last)
                        .bind(fold.after)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                if moved == 0 {
                    return Ok(false);
                }
                if !fold.seen.is_empty() {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "INSERT INTO report_seen (resource, facts) SELECT {}, {} FROM {} \
                         WHERE TRUE ON CONFLICT (resource) DO UPDATE SET facts = excluded.facts",
                        crate::sets::text(0),
                        crate::sets::text(1),
                        crate::sets::rows(pg, 1)
                    )))
                    .bind(&seen)
                    .execute(&mut *tx)
                    .await?;
                }
                write_facts!(&mut *tx, pg, &fold.delta, &fold.days);
                tx.commit().await?;
                true
            }))
        })
    }

    /// Empties the rollup and starts it at the first event under `policy`'s settings (`was`: there
    /// was one, counted under others).
    async fn report_restart(&self, policy: &ReportingPolicy, was: bool) -> Result<(), StoreError> {
        let zone = policy.time_zone;
        let window = i64::from(policy.attribution_days);
        if was {
            tracing::info!(
                time_zone = zone.name(),
                attribution_days = window,
                "reporting settings changed: the rollup is counted again from the first event"
            );
        }
        retrying!(&self.backend, async {
            with_writer!(&self.backend, |pool, pg| {
                let mut tx = if pg {
                    pool.begin().await?
                } else {
                    pool.begin_with("BEGIN IMMEDIATE").await?
                };
                // Folds and restarts take turns here (SQLite: the write lock), so one started by
                // another replica meanwhile is found, not emptied again.
                if pg {
                    sqlx::query("LOCK TABLE report_position IN EXCLUSIVE MODE")
                        .execute(&mut *tx)
                        .await?;
                }
                let at: Option<(String, i64)> =
                    sqlx::query_as("SELECT time_zone, attribution_days FROM report_position")
                        .fetch_optional(&mut *tx)
                        .await?;
                if at.is_some_and(|(z, d)| z == zone.name() && d == window) {
                    tx.commit().await?;
                    return Ok(());
                }
                for table in [
                    "report_facts",
                    "report_agent_days",
                    "report_seen",
                    "report_position",
                ] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query(
                    "INSERT INTO report_position (one, event_id, time_zone, attribution_days) \
                     VALUES (1, 0, $1, $2)",
                )
                .bind(zone.name())
                .bind(window)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            });
            Ok(())
        })
    }

    /// Folds until the rollup is at the feed's head; returns the events folded.
    pub async fn fold_report_all(&self, policy: &ReportingPolicy) -> Result<usize, StoreError> {
        let mut folded = 0;
        loop {
            let n = self.fold_report(policy).await?;
            folded += n;
            if n == 0 {
                return Ok(folded);
            }
        }
    }

    /// Events committed that the rollup under `policy`'s settings has not folded yet: all of them
    /// when it has none or was counted under other settings.
    pub async fn report_lag(&self, policy: &ReportingPolicy) -> Result<i64, StoreError> {
        // One statement: a report asks this before everything else.
        let (head, at_id, at_zone, at_days): (
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<i64>,
        ) = with_reader!(&self.backend, |pool, pg| {
            sqlx::query_as(LAG_SQL).fetch_one(pool).await?
        });
        let head = head.unwrap_or(0);
        let at = at_id
            .zip(at_zone)
            .zip(at_days)
            .map(|((id, z), d)| (id, z, d));
        let window = i64::from(policy.attribution_days);
        Ok(match at {
            Some((id, zone, days)) if zone == policy.time_zone.name() && days == window => {
                head - id
            }
            _ => head,
        })
    }

    /// The rollup's facts dated `from..=to`.
    pub async fn report_facts(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(FactKey, Tally)>, StoreError> {
        type Row = (NaiveDate, String, String, String, String, String, i64, i64);
        let rows: Vec<Row> = with_reader!(&self.backend, |pool, pg| {
            sqlx::query_as(FACTS_SQL)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
        });
        let mut out = Vec::with_capacity(rows.len());
        for (day, agent, queue, currency, measure, detail, count, amount_minor) in rows {
            let measure = Measure::parse(&measure)
                .ok_or_else(|| StoreError::Corrupt(format!("report measure {measure}")))?;
            let tally = Tally {
                count,
                amount_minor,
            };
            if tally != Tally::default() {
                let key = FactKey {
                    day,
                    agent,
                    queue,
                    currency,
                    measure,
                    detail,
                };
                out.push((key, tally));
            }
        }
        Ok(out)
    }

    /// The agents' working days `from..=to`.
    pub async fn report_agent_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<AgentDay>, StoreError> {
        let rows: Vec<(NaiveDate, String, i64, i64, i64)> =
            with_reader!(&self.backend, |pool, pg| {
                sqlx::query_as(AGENT_DAYS_SQL)
                    .bind(from)
                    .bind(to)
                    .fetch_all(pool)
                    .await?
            });
        rows.into_iter()
            .map(|(day, agent, first, last, calls)| {
                let at = |us| {
                    chrono::DateTime::from_timestamp_micros(us)
                        .ok_or_else(|| StoreError::Corrupt(format!("report agent day {us}")))
                };
                Ok(AgentDay {
                    day,
                    agent,
                    first: at(first)?,
                    last: at(last)?,
                    calls,
                })
            })
            .collect()
    }
}

#[cfg(feature = "testkit")]
mod recompute;
