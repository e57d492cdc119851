//! Claims (migration 0016): an account reserved for one agent while the call is prepared and made.
//! The rules are the domain's (`recoup_domain::floor`); here, the rows. A unique partial index holds
//! each account to one live claim on one process or several; a claim past its expiry is treated as
//! ended by every read (compared with now), and recorded as expired when the account is claimed
//! again. Claims go through the store's writer task like calls: the claims queued while the previous
//! transaction committed share one transaction, each judged against those before it.
//!
//! Claiming the next account walks the worklist's rank index from the top, skipping accounts
//! held: a listed entry is the contact rules' judgement of the account's current view, valid for
//! the window it names, so the first candidate not held is claimed. Claiming a named account
//! judges it with the contact rules at that instant inside the transaction. On PostgreSQL a
//! candidate another replica is claiming is skipped (`SKIP LOCKED`), never waited for.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use recoup_domain::contact::Block;
use recoup_domain::floor::{self, Claim, ClaimEnd, NotCovered, Unclaimable};
use recoup_domain::policy::Policy;
use tokio::sync::oneshot;

use crate::ConflictKind;
use crate::calls::sqlite_time;
use crate::contact_rules::{contact_status, held_account};
use crate::model::AccountSnapshot;
use crate::retrying;
use crate::rows::RowExt;
use crate::writer::{self, Job};
use crate::{Backend, Store, StoreError, store_time, with_reader, with_writer};

/// Why a claim could not be made, extended or released, or does not cover a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimProblem {
    /// The contact rules forbid calling the account now (`lasting`: whatever the override).
    Rules {
        account_id: i64,
        blocks: Vec<Block>,
        lasting: bool,
    },
    /// Another agent holds the account.
    Held(Claim),
    /// The agent holds as many claims as one may.
    Limit { held: Vec<Claim>, max: u32 },
    /// The claim has ended (recorded, released or expired).
    Ended(Claim, ClaimEnd),
    /// The claim is held as long as a claim may be.
    MaxHold { claim: Claim, max_minutes: u32 },
    /// The claim is another agent's.
    NotYours(Claim),
    /// The claim named on a call does not cover it.
    NotCovered { claim: Claim, why: NotCovered },
}

/// The error a claim problem is answered with.
pub(crate) fn problem(p: ClaimProblem) -> StoreError {
    StoreError::Claim(Box::new(p))
}

/// What a claim request asks.
#[derive(Debug, Clone)]
pub enum ClaimOp {
    /// The best account the rules allow now, in one of `queues` (`None`: any queue).
    Next {
        queues: Option<Vec<String>>,
    },
    /// One account, with a supervisor's reason to set lapsing rules aside.
    Account {
        account_id: i64,
        override_reason: Option<String>,
    },
    Extend {
        account_id: i64,
        claim_id: i64,
    },
    /// Given up by its holder, or by a supervisor (`by_supervisor`).
    Release {
        account_id: i64,
        claim_id: i64,
        by_supervisor: bool,
    },
}

/// A claim request waiting for the writer.
pub(crate) struct ClaimJob {
    op: ClaimOp,
    agent: String,
    policy: Arc<Policy>,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<Option<Claim>, StoreError>>,
}

impl ClaimJob {
    /// Whether the caller stopped waiting before the write began.
    pub(crate) fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }
}

/// Candidates read at a time when claiming the next account (at least), and how many reads one
/// claim may make: an agent is told nothing may be called rather than walk the whole list under
/// the writer.
const CANDIDATES: i64 = 16;
const ROUNDS: usize = 8;

pub(crate) const COLUMNS: &str = "id, account_id, agent, claim_time, expire_time, end_time, end_reason, \
     override_reason";

/// `COLUMNS` of the claims table joined as `alias`, each named `{alias}_{column}` (read back by
/// `claim_from_row` with that prefix).
pub(crate) fn prefixed(alias: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c} AS {alias}_{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A claim row (`COLUMNS`, optionally prefixed) read back.
pub(crate) fn claim_from_row<R: RowExt>(r: &R, prefix: &str) -> Result<Claim, StoreError> {
    let col = |c: &str| format!("{prefix}{c}");
    let ended = match (
        r.opt_time(&col("end_time"))?,
        r.opt_text(&col("end_reason"))?,
    ) {
        (Some(t), Some(how)) => Some((
            t,
            ClaimEnd::parse(&how)
                .ok_or_else(|| StoreError::Corrupt(format!("claim end '{how}'")))?,
        )),
        _ => None,
    };
    Ok(Claim {
        id: r.int(&col("id"))?,
        account_id: r.int(&col("account_id"))?,
        agent: r.text(&col("agent"))?,
        claim_time: r.time(&col("claim_time"))?,
        expire_time: r.time(&col("expire_time"))?,
        ended,
        override_reason: r.opt_text(&col("override_reason"))?,
    })
}

/// Inside a transaction: claim `$id`, if it exists.
macro_rules! claim_by_id {
    ($tx:expr, $id:expr) => {{
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM claims WHERE id = $1",
            $crate::claims::COLUMNS
        )))
        .bind($id)
        .fetch_optional(&mut *$tx)
        .await?;
        match row {
            Some(r) => Some($crate::claims::claim_from_row(&r, "")?),
            None => None,
        }
    }};
}

/// Inside a transaction: ends claim `$id` (if it has not ended) as `$how`, with the call recorded
/// under it.
macro_rules! end_claim {
    ($tx:expr, $pg:expr, $id:expr, $how:expr, $call:expr, $now:expr) => {{
        let q = sqlx::query(
            "UPDATE claims SET end_time = $1, end_reason = $2, call_id = $3 \
             WHERE id = $4 AND end_time IS NULL",
        );
        let q = if $pg {
            q.bind($now)
        } else {
            q.bind($crate::calls::sqlite_time($now))
        };
        q.bind($how)
            .bind($call)
            .bind($id)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use end_claim;

/// PrepareCall's read by backend (SQLite, PostgreSQL): the account's stored view (built on the
/// spot if missing) with its live claim at `$2`, by account id `$1`. Built once, so every call runs
/// an already-prepared statement.
static WITH_CLAIM_SQL: LazyLock<[String; 2]> = LazyLock::new(|| {
    [false, true].map(|pg| {
        format!(
            "SELECT {} AS doc, {} \
             FROM accounts a LEFT JOIN claims k ON k.account_id = a.id \
             AND k.end_time IS NULL AND k.expire_time > $2 WHERE a.id = $1",
            crate::view::stored_or_built(pg),
            prefixed("k")
        )
    })
});

pub(crate) fn with_claim_sql(pg: bool) -> &'static str {
    &WITH_CLAIM_SQL[usize::from(pg)]
}

impl Store {
    /// Claims, extends or releases as `agent` (the credential subject) under `policy` at `now`.
    /// `Next` answers `None` when no account may be called now.
    ///
    /// Errors: `NotFound` (no such account or claim), `Claim` (why not).
    pub async fn claim(
        &self,
        agent: &str,
        op: ClaimOp,
        policy: &Arc<Policy>,
        now: DateTime<Utc>,
    ) -> Result<Option<Claim>, StoreError> {
        writer::submit(&self.writer, |reply| {
            Job::Claim(ClaimJob {
                op,
                agent: agent.to_owned(),
                policy: policy.clone(),
                now: store_time(now),
                reply,
            })
        })
        .await
    }

    /// Account `account_id` as GetAccount reads it, with its live claim at `now` (whoever holds
    /// it), in one query; `None` when there is no such account.
    pub async fn account_with_claim(
        &self,
        account_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<(AccountSnapshot, Option<Claim>)>, StoreError> {
        Ok(with_reader!(&self.backend, |pool, pg| {
            let sql = with_claim_sql(pg);
            let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id);
            let q = if pg {
                q.bind(now)
            } else {
                q.bind(sqlite_time(now))
            };
            match q.fetch_optional(pool).await? {
                None => None,
                Some(r) => {
                    let snapshot = crate::view::decode(&r.text("doc")?)?;
                    let claim = match r.opt_int("k_id")? {
                        Some(_) => Some(claim_from_row(&r, "k_")?),
                        None => None,
                    };
                    Some((snapshot, claim))
                }
            }
        }))
    }
}

/// Writes a batch of claim requests in one transaction and answers each.
pub(crate) async fn apply(backend: &Backend, jobs: Vec<ClaimJob>) {
    match retrying!(backend, write_batch(backend, &jobs)) {
        Ok(results) => {
            for (job, r) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(r);
            }
        }
        Err(e) if jobs.len() > 1 => {
            tracing::warn!(error = %e, jobs = jobs.len(), "claim batch refused; one by one");
            for job in jobs {
                let r = match retrying!(backend, write_batch(backend, std::slice::from_ref(&job))) {
                    Ok(mut one) => one.pop().expect("one result per claim"),
                    Err(e) => Err(e),
                };
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            if let Some(job) = jobs.into_iter().next() {
                let _ = job.reply.send(Err(e));
            }
        }
    }
}

/// Whether an error is the request's own (answered to it alone) rather than the database's.
fn refused(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::NotFound | StoreError::Claim(_) | StoreError::Conflict(_)
    )
}

/// The claims `agent` holds at `$now`.
macro_rules! held_by {
    ($tx:expr, $pg:expr, $agent:expr, $now:expr) => {{
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM claims WHERE agent = $1 AND end_time IS NULL \
             AND expire_time > $2 ORDER BY id"
        )))
        .bind($agent);
        let q = if $pg {
            q.bind($now)
        } else {
            q.bind(sqlite_time($now))
        };
        q.fetch_all(&mut *$tx)
            .await?
            .iter()
            .map(|r| claim_from_row(r, ""))
            .collect::<Result<Vec<Claim>, StoreError>>()?
    }};
}

/// The live claim on account `$account_id` at `$now`, whoever holds it.
macro_rules! live_on {
    ($tx:expr, $pg:expr, $account_id:expr, $now:expr) => {{
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM claims WHERE account_id = $1 AND end_time IS NULL \
             AND expire_time > $2"
        )))
        .bind($account_id);
        let q = if $pg {
            q.bind($now)
        } else {
            q.bind(sqlite_time($now))
        };
        match q.fetch_optional(&mut *$tx).await? {
            Some(r) => Some(claim_from_row(&r, "")?),
            None => None,
        }
    }};
}

/// Claims account `$account_id` for the job's agent, unless someone holds it: records an expired
/// claim on it as expired first. Evaluates to the claim, or `None` when another claim holds it.
macro_rules! insert_claim {
    ($tx:expr, $pg:expr, $job:expr, $account_id:expr, $override:expr) => {{
        let (job, account_id): (&ClaimJob, i64) = ($job, $account_id);
        let override_reason: Option<&str> = $override;
        let expire = job.now + chrono::Duration::minutes(i64::from(job.policy.floor.claim_minutes));
        let mut id: Option<i64> = None;
        // Most accounts have no claim row left live; one that expired is recorded as expired only
        // when the insert finds it in the way.
        for attempt in 0..2 {
            if attempt == 1 {
                let q = sqlx::query(
                    "UPDATE claims SET end_time = expire_time, end_reason = 'expired' \
                     WHERE account_id = $1 AND end_time IS NULL AND expire_time <= $2",
                )
                .bind(account_id);
                let q = if $pg {
                    q.bind(job.now)
                } else {
                    q.bind(sqlite_time(job.now))
                };
                if q.execute(&mut *$tx).await?.rows_affected() == 0 {
                    break;
                }
            }
            let q = sqlx::query_scalar(
                "INSERT INTO claims (account_id, agent, claim_time, expire_time, override_reason, \
                 override_by) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(account_id)
            .bind(&job.agent);
            let q = if $pg {
                q.bind(job.now).bind(expire)
            } else {
                q.bind(sqlite_time(job.now)).bind(sqlite_time(expire))
            };
            id = q
                .bind(override_reason)
                .bind(override_reason.map(|_| job.agent.as_str()))
                .fetch_optional(&mut *$tx)
                .await?;
            if id.is_some() {
                break;
            }
        }
        id.map(|id| Claim {
            id,
            account_id,
            agent: job.agent.clone(),
            claim_time: job.now,
            expire_time: expire,
            ended: None,
            override_reason: override_reason.map(str::to_owned),
        })
    }};
}

/// Claim `$claim_id` of account `$account_id`, live and the job's agent's (or any agent's for a
/// supervisor, `$any`); the problem otherwise.
macro_rules! owned {
    ($tx:expr, $job:expr, $account_id:expr, $claim_id:expr, $any:expr) => {{
        let job: &ClaimJob = $job;
        let c: Claim = match claim_by_id!($tx, $claim_id) {
            Some(c) if c.account_id == $account_id => c,
            _ => return Err(StoreError::NotFound),
        };
        if c.agent != job.agent && !$any {
            return Err(problem(ClaimProblem::NotYours(c)));
        }
        if let Some(how) = c.end_at(job.now) {
            return Err(problem(ClaimProblem::Ended(c, how)));
        }
        c
    }};
}

/// The next candidates on the worklist at `now` (rank order, after `after`), not held by anyone.
pub(crate) fn candidates_sql(pg: bool, queues: Option<usize>, after: bool) -> String {
    let mut n = 2;
    let mut next = || {
        n += 1;
        n
    };
    let queue = match queues {
        Some(_) => crate::worklist::queue_filter(pg, next(), queues),
        None => String::new(),
    };
    let after = if after {
        let (s, i) = (next(), next());
        format!("AND (w.score, w.account_id) < (${s}, ${i})")
    } else {
        String::new()
    };
    let lock = if pg {
        " FOR UPDATE OF w SKIP LOCKED"
    } else {
        ""
    };
    format!(
        "SELECT w.account_id, w.score FROM worklist w \
         WHERE NOT w.stale AND w.score IS NOT NULL AND w.callable_from <= $1 \
         AND w.callable_until > $1 {queue} {after} \
         AND NOT EXISTS (SELECT 1 FROM claims k WHERE k.account_id = w.account_id \
         AND k.end_time IS NULL AND k.expire_time > $1) \
         ORDER BY w.score DESC, w.account_id DESC LIMIT $2{lock}"
    )
}

/// A batch's walk down the worklist for one queue selection.
#[derive(Default)]
struct Cursor {
    /// Candidates read and not yet tried, in rank order.
    ready: VecDeque<i64>,
    /// The last candidate read (score, account id): the next read starts below it.
    after: Option<(i64, i64)>,
    /// The list has no more candidates.
    walked: bool,
    /// The batch's claims in this selection not yet answered (this one included).
    waiting: usize,
}

/// One transaction for the batch; a database error fails the whole batch (rolled back).
async fn write_batch(
    backend: &Backend,
    jobs: &[ClaimJob],
) -> Result<Vec<Result<Option<Claim>, StoreError>>, StoreError> {
    Ok(with_writer!(backend, |pool, pg| {
        // A claim changes no account (no event, no view): a plain transaction, begun as every
        // write is (SQLite's `BEGIN IMMEDIATE`), its phases timed as a `ChangeTx`'s are.
        let mut phases = crate::phases::Phases::start("claim");
        let mut tx = if pg {
            pool.begin().await?
        } else {
            pool.begin_with("BEGIN IMMEDIATE").await?
        };
        phases.mark("begin");
        // The batch's `Next` claims walk the worklist once per queue selection, each taking the
        // next candidate, rather than each from the top past the accounts claimed before it.
        let mut cursors: HashMap<&Option<Vec<String>>, Cursor> = HashMap::new();
        for job in jobs {
            if let ClaimOp::Next { queues } = &job.op {
                cursors.entry(queues).or_default().waiting += 1;
            }
        }
        let mut results = Vec::with_capacity(jobs.len());
        for job in jobs {
            let one = async {
                match &job.op {
                    ClaimOp::Next { queues } => {
                        let held = held_by!(tx, pg, &job.agent, job.now);
                        if held.len() >= job.policy.floor.max_claims_per_agent as usize {
                            return Err(problem(ClaimProblem::Limit {
                                held,
                                max: job.policy.floor.max_claims_per_agent,
                            }));
                        }
                        let cursor = cursors.get_mut(queues).expect("a cursor per selection");
                        let queue = queues.as_deref().map(crate::worklist::queue_param);
                        for round in 0..=ROUNDS {
                            // A listed entry is the contact rules' judgement of the account's
                            // view as it is now (an entry is saved only for the view it was
                            // computed from, and any change makes it stale and unlisted), valid
                            // for its window: the call is allowed now. One taken by an earlier
                            // request of the batch is passed over by the insert.
                            while let Some(account_id) = cursor.ready.pop_front() {
                                if let Some(c) = insert_claim!(tx, pg, job, account_id, None) {
                                    return Ok(Some(c));
                                }
                            }
                            if cursor.walked || round == ROUNDS {
                                break;
                            }
                            let sql = candidates_sql(
                                pg,
                                queues.as_ref().map(Vec::len),
                                cursor.after.is_some(),
                            );
                            let q = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql));
                            let q = if pg {
                                q.bind(job.now)
                            } else {
                                q.bind(sqlite_time(job.now))
                            };
                            // Enough for every claim of the batch still to come in this selection.
                            let limit = CANDIDATES.max(cursor.waiting as i64);
                            let q = q.bind(limit);
                            let q = match &queue {
                                Some(queue) => q.bind(queue.clone()),
                                None => q,
                            };
                            let q = match cursor.after {
                                Some((s, i)) => q.bind(s).bind(i),
                                None => q,
                            };
                            let found = q.fetch_all(&mut *tx).await?;
                            cursor.walked = (found.len() as i64) < limit;
                            if let Some(&last) = found.last() {
                                cursor.after = Some(last);
                            }
                            cursor.ready.extend(found.iter().map(|(id, _)| *id));
                        }
                        Ok(None)
                    }
                    ClaimOp::Account {
                        account_id,
                        override_reason,
                    } => {
                        let account_id = *account_id;
                        let held = held_account!(tx, pg, account_id);
                        if let Some(c) = live_on!(tx, pg, account_id, job.now) {
                            return if c.agent == job.agent {
                                Ok(Some(c))
                            } else {
                                Err(problem(ClaimProblem::Held(c)))
                            };
                        }
                        let mine = held_by!(tx, pg, &job.agent, job.now);
                        if mine.len() >= job.policy.floor.max_claims_per_agent as usize {
                            return Err(problem(ClaimProblem::Limit {
                                held: mine,
                                max: job.policy.floor.max_claims_per_agent,
                            }));
                        }
                        let status =
                            contact_status!(tx, pg, account_id, &held, &job.policy, job.now);
                        match floor::claimable(&status, override_reason.is_some()) {
                            Ok(()) => {}
                            Err(Unclaimable::Lasting(blocks)) => {
                                return Err(problem(ClaimProblem::Rules {
                                    account_id,
                                    blocks,
                                    lasting: true,
                                }));
                            }
                            Err(Unclaimable::Lapsing(blocks)) => {
                                return Err(problem(ClaimProblem::Rules {
                                    account_id,
                                    blocks,
                                    lasting: false,
                                }));
                            }
                        }
                        // The override is kept only where it set a rule aside.
                        let reason = override_reason.as_deref().filter(|_| !status.may_call());
                        match insert_claim!(tx, pg, job, account_id, reason) {
                            Some(c) => Ok(Some(c)),
                            // Another replica claimed it in the meantime.
                            None => match live_on!(tx, pg, account_id, job.now) {
                                Some(c) => Err(problem(ClaimProblem::Held(c))),
                                None => Err(StoreError::conflict(
                                    ConflictKind::Contended,
                                    format!("accounts/{account_id}"),
                                    "the account was being claimed; try again",
                                )),
                            },
                        }
                    }
                    ClaimOp::Extend {
                        account_id,
                        claim_id,
                    } => {
                        let c = owned!(tx, job, *account_id, *claim_id, false);
                        let Some(expire) = c.extended(job.now, &job.policy.floor) else {
                            return Err(problem(ClaimProblem::MaxHold {
                                claim: c,
                                max_minutes: job.policy.floor.max_claim_minutes,
                            }));
                        };
                        let q = sqlx::query("UPDATE claims SET expire_time = $1 WHERE id = $2");
                        let q = if pg {
                            q.bind(expire)
                        } else {
                            q.bind(sqlite_time(expire))
                        };
                        q.bind(c.id).execute(&mut *tx).await?;
                        Ok(Some(Claim {
                            expire_time: expire,
                            ..c
                        }))
                    }
                    ClaimOp::Release {
                        account_id,
                        claim_id,
                        by_supervisor,
                    } => {
                        let c = owned!(tx, job, *account_id, *claim_id, *by_supervisor);
                        end_claim!(tx, pg, c.id, "released", None::<i64>, job.now);
                        Ok(Some(Claim {
                            ended: Some((job.now, ClaimEnd::Released)),
                            ..c
                        }))
                    }
                }
            }
            .await;
            if let ClaimOp::Next { queues } = &job.op
                && let Some(cursor) = cursors.get_mut(queues)
            {
                cursor.waiting -= 1;
            }
            match one {
                Err(e) if !refused(&e) => return Err(e),
                r => results.push(r),
            }
        }
        phases.mark("work");
        tx.commit().await?;
        phases.mark("commit");
        results
    }))
}
