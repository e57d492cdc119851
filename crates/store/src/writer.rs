//! Group commit: one writer task per store takes the write requests queued while the previous
//! transaction committed and applies them together in one transaction, with one commit (and, on
//! SQLite with synchronous=FULL, one fsync) for all of them. Each request is answered only after
//! that commit. A request that breaks a rule is answered with its error and left out of the batch;
//! if the database refuses the batch as a whole, each request is retried alone, so one request can
//! never fail another. A request whose caller has gone (timed out, cancelled) before its batch
//! starts is dropped unwritten; one whose caller leaves during the commit is written, and its retry
//! (same request_id) is answered with it.

use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::calls::{self, CallJob};
use crate::claims::{self, ClaimJob};
use crate::events::Feed;
use crate::payments::{self, PaymentJob};
use crate::phases;
use crate::{Backend, StoreError};

/// Requests taken into one transaction at most.
const MAX_BATCH: usize = 256;
/// Requests waiting for the writer at most; beyond it callers wait to enqueue.
const QUEUE: usize = 4096;

/// A write request and where its answer goes.
pub(crate) enum Job {
    Payment(PaymentJob),
    Call(Box<CallJob>),
    Claim(ClaimJob),
}

impl Job {
    fn kind(&self) -> &'static str {
        match self {
            Job::Payment(_) => "payment",
            Job::Call(_) => "call",
            Job::Claim(_) => "claim",
        }
    }
}

/// The sending side, held by every clone of the store; the task ends when the last one goes. Each
/// job travels with the instant it was submitted (its wait is measured: `phases`).
pub(crate) type Queue = mpsc::Sender<(Instant, Job)>;

/// Starts the writer task for `backend`. On SQLite it runs on a thread of its own: each statement
/// is a hand-off to sqlx's worker thread and back, and on a runtime busy with requests the writer
/// waited its turn after each one, so every write in the queue waited with it.
pub(crate) fn start(backend: Backend, feed: Feed) -> Queue {
    let (tx, rx) = mpsc::channel(QUEUE);
    if matches!(backend, Backend::Sqlite { .. }) {
        std::thread::Builder::new()
            .name("recoup-writer".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("writer runtime");
                rt.block_on(run(backend, feed, rx));
            })
            .expect("writer thread");
    } else {
        tokio::spawn(run(backend, feed, rx));
    }
    tx
}

async fn run(backend: Backend, feed: Feed, mut rx: mpsc::Receiver<(Instant, Job)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut payments = Vec::with_capacity(batch.len());
        let mut calls = Vec::new();
        let mut claims = Vec::new();
        for (since, job) in batch.drain(..) {
            phases::queued(job.kind(), since);
            match job {
                Job::Payment(p) if p.abandoned() => {}
                Job::Payment(p) => payments.push(p),
                Job::Call(c) if c.abandoned() => {}
                Job::Call(c) => calls.push(*c),
                Job::Claim(c) if c.abandoned() => {}
                Job::Claim(c) => claims.push(c),
            }
        }
        if !payments.is_empty() {
            phases::batch("payment", payments.len());
            payments::apply(&backend, &feed, payments).await;
        }
        if !calls.is_empty() {
            phases::batch("call", calls.len());
            calls::apply(&backend, &feed, calls).await;
        }
        // After the calls: a call recorded under a claim ends it before the agent's next claim.
        if !claims.is_empty() {
            phases::batch("claim", claims.len());
            claims::apply(&backend, claims).await;
        }
    }
}

/// Hands a job to the writer and waits for its answer.
pub(crate) async fn submit<T>(
    queue: &Queue,
    job: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
) -> Result<T, StoreError> {
    let (tx, rx) = oneshot::channel();
    let closed = || StoreError::Unusable("the store is closing".into());
    queue
        .send((Instant::now(), job(tx)))
        .await
        .map_err(|_| closed())?;
    rx.await.map_err(|_| closed())?
}
