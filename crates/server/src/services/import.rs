//! ImportAccounts and ImportAccountsWithResults: a stream of account records written in batches
//! while the next is read, with the import's progress recorded so a cut stream resumes, and, for
//! the second, each record's result streamed back as its batch commits.

use std::pin::Pin;

use chrono::{DateTime, Utc};
use prost::Message;
use recoup_domain::Violations;
use recoup_domain::fingerprint::Canonical;
use recoup_proto::v1 as pb;
use recoup_store::{ImportOutcome, ImportProgress, Progress, RequestKey, Store};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Status, Streaming};

use crate::clock::SharedClock;
use crate::convert::account_in;
use crate::names;
use crate::status::{from_store, idempotency_mismatch, internal, invalid, store_failed};

/// Records written per import transaction: large enough to amortise commits, small enough that
/// memory stays flat however long the stream is.
const IMPORT_BATCH: usize = 1000;
/// The idempotency ledger's name for ImportAccounts.
const IMPORT_METHOD: &str = "ImportAccounts";
/// Results queued for a slow reader at most: past this, the import waits for it.
const RESULTS_QUEUED: usize = 1024;

/// Where per-record results and the closing summary go.
type Results = mpsc::Sender<Result<pb::ImportAccountsResult, Status>>;

/// ImportAccountsWithResults' answer.
pub type ResultStream =
    Pin<Box<dyn Stream<Item = Result<pb::ImportAccountsResult, Status>> + Send>>;

/// Runs the import of `stream` as `actor`, sending each record's result and then the summary (or
/// the error that ended it) on the answer stream.
pub fn with_results(
    store: Store,
    clock: SharedClock,
    actor: String,
    stream: Streaming<pb::ImportAccountsWithResultsRequest>,
) -> ResultStream {
    let (tx, rx) = mpsc::channel(RESULTS_QUEUED);
    let stream = stream.map(|m| {
        m.map(|m| pb::ImportAccountsRequest {
            request_id: m.request_id,
            account: m.account,
        })
    });
    tokio::spawn(async move {
        let ended = run(&store, &clock, actor, stream, Some(tx.clone())).await;
        let last = ended.map(|summary| pb::ImportAccountsResult {
            result: Some(pb::import_accounts_result::Result::Summary(summary)),
        });
        let _ = tx.send(last).await;
    });
    Box::pin(ReceiverStream::new(rx))
}

/// What became of record `index`.
fn record_result(
    index: i64,
    external_ref: &str,
    outcome: &ImportOutcome,
) -> pb::ImportAccountsResult {
    use pb::ImportRecordOutcome as O;
    let (outcome, account, violations) = match outcome {
        ImportOutcome::Created(id) => (O::Created, *id, Vec::new()),
        ImportOutcome::Updated(id) => (O::Updated, *id, Vec::new()),
        ImportOutcome::Unchanged(id) => (O::Unchanged, *id, Vec::new()),
        ImportOutcome::Rejected(v) => {
            let mut prefixed = Violations::new();
            prefixed.extend_prefixed("account", v.clone());
            (
                O::Rejected,
                0,
                super::rejection(index, external_ref, prefixed).violations,
            )
        }
    };
    pb::ImportAccountsResult {
        result: Some(pb::import_accounts_result::Result::Record(
            pb::ImportRecordResult {
                index,
                external_ref: external_ref.to_owned(),
                outcome: outcome as i32,
                account: if account > 0 {
                    crate::convert::account_name(account)
                } else {
                    String::new()
                },
                violations,
            },
        )),
    }
}

/// (stream index, external ref) of each record of a batch.
type BatchMeta = Vec<(i64, String)>;

/// A batch handed to the store, still being written.
type Writing = tokio::task::JoinHandle<Result<Vec<ImportOutcome>, recoup_store::StoreError>>;

/// An import in progress: the batch being filled, the batch being written, the running summary.
/// Writing one batch while the next is received and validated keeps both the database and the
/// request decoding busy; at most two batches are in memory.
struct Import {
    /// Where each record's result goes (ImportAccountsWithResults), as its batch commits.
    results: Option<Results>,
    /// The caller's subject, recorded on every change.
    actor: String,
    /// The stream's request id (empty when it has none), recorded on every change.
    request_id: String,
    summary: pb::ImportAccountsResponse,
    batch: Vec<recoup_domain::account::AccountData>,
    batch_meta: BatchMeta,
    writing: Option<(Writing, BatchMeta)>,
    /// For an import with a request id: where its recorded progress stands (None before its
    /// first batch), so each batch records the next step and a cut stream can be resumed.
    progress: Option<Option<i64>>,
}

/// `v` refusing record `index`, counted in `summary` (listed while the list has room).
fn reject(summary: &mut pb::ImportAccountsResponse, index: i64, external_ref: &str, v: Violations) {
    summary.rejected += 1;
    if summary.rejections.len() < super::MAX_LISTED_REJECTIONS {
        let mut prefixed = Violations::new();
        prefixed.extend_prefixed("account", v);
        summary
            .rejections
            .push(super::rejection(index, external_ref, prefixed));
    } else {
        summary.rejections_truncated = true;
    }
}

/// A batch's outcomes counted in `summary`; the name of each, for the metrics.
fn count(
    summary: &mut pb::ImportAccountsResponse,
    outcomes: &[ImportOutcome],
    meta: &BatchMeta,
) -> Vec<&'static str> {
    outcomes
        .iter()
        .zip(meta)
        .map(|(outcome, (index, external_ref))| match outcome {
            ImportOutcome::Created(_) => {
                summary.created += 1;
                "created"
            }
            ImportOutcome::Updated(_) => {
                summary.updated += 1;
                "updated"
            }
            ImportOutcome::Unchanged(_) => {
                summary.unchanged += 1;
                "unchanged"
            }
            ImportOutcome::Rejected(v) => {
                reject(summary, *index, external_ref, v.clone());
                "rejected"
            }
        })
        .collect()
}

impl Import {
    /// Record `index` refused for bad input: counted, and its result sent.
    async fn refuse(&mut self, index: i64, external_ref: &str, v: Violations) {
        if let Some(results) = &self.results {
            let result = record_result(index, external_ref, &ImportOutcome::Rejected(v.clone()));
            // A reader that went away ends the import at its next read of the stream.
            let _ = results.send(Ok(result)).await;
        }
        reject(&mut self.summary, index, external_ref, v);
    }

    /// Starts writing the filled batch, once the one before it is written, as of `now`;
    /// `next_index` is the index of the first record not yet received.
    async fn flush(
        &mut self,
        store: &Store,
        next_index: i64,
        now: DateTime<Utc>,
    ) -> Result<(), Status> {
        self.settle().await?;
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(IMPORT_BATCH));
        let meta = std::mem::take(&mut self.batch_meta);
        let (store, actor, request_id) =
            (store.clone(), self.actor.clone(), self.request_id.clone());
        // The progress after this batch: the summary so far (every record before it counted, as
        // `settle` waited for the batch before) with this batch's outcomes.
        let before = self.progress;
        let (summary, counted) = (self.summary.clone(), meta.clone());
        let after = move |outcomes: &[ImportOutcome]| {
            let mut summary = summary.clone();
            count(&mut summary, outcomes, &counted);
            ImportProgress {
                next_index,
                summary: summary.encode_to_vec(),
            }
        };
        if self.progress.is_some() {
            self.progress = Some(Some(next_index));
        }
        // Spawned, so a client that disconnects mid-stream cannot cut a batch's write short.
        let write = tokio::spawn(async move {
            let by = RequestKey {
                subject: &actor,
                request_id: &request_id,
            };
            let progress = before.map(|before| Progress {
                before,
                after: &after,
            });
            store.import_batch_tracked(&batch, by, now, progress).await
        });
        self.writing = Some((write, meta));
        Ok(())
    }

    /// Waits for the batch being written and counts its outcomes.
    async fn settle(&mut self) -> Result<(), Status> {
        let Some((write, meta)) = self.writing.take() else {
            return Ok(());
        };
        let outcomes = write
            .await
            .map_err(|e| internal(&e))?
            .map_err(|e| from_store(e, "", "the import"))?;
        for result in count(&mut self.summary, &outcomes, &meta) {
            metrics::counter!("recoup_import_records_total", "result" => result).increment(1);
        }
        if let Some(results) = &self.results {
            for (outcome, (index, external_ref)) in outcomes.iter().zip(&meta) {
                let _ = results
                    .send(Ok(record_result(*index, external_ref, outcome)))
                    .await;
            }
        }
        Ok(())
    }
}

/// Imports `stream` as `actor`; each record's result goes to `results` when given.
pub async fn run(
    store: &Store,
    clock: &SharedClock,
    actor: String,
    mut stream: impl Stream<Item = Result<pb::ImportAccountsRequest, Status>> + Unpin,
    results: Option<Results>,
) -> Result<pb::ImportAccountsResponse, Status> {
    let mut import = Import {
        results,
        actor: actor.clone(),
        request_id: String::new(),
        summary: pb::ImportAccountsResponse::default(),
        batch: Vec::with_capacity(IMPORT_BATCH),
        batch_meta: Vec::with_capacity(IMPORT_BATCH),
        writing: None,
        progress: None,
    };
    // Records before this index were written by an earlier, cut stream of the same import.
    let mut resume_at = 0;
    let mut request_id = String::new();
    let mut replay: Option<recoup_store::SeenRequest> = None;
    let mut digest = Canonical::new("import/v1");
    let mut index: i64 = 0;
    while let Some(msg) = stream.next().await.transpose()? {
        if index == 0 && !msg.request_id.is_empty() {
            let mut v = Violations::new();
            names::request_id(&mut v, "request_id", &msg.request_id);
            if !v.is_empty() {
                return Err(invalid(v));
            }
            request_id = msg.request_id.clone();
            import.request_id = request_id.clone();
            let key = RequestKey {
                subject: &actor,
                request_id: &request_id,
            };
            replay = store.find_request(key).await.map_err(store_failed)?;
            let progress = store.import_progress(key).await.map_err(store_failed)?;
            import.progress = Some(progress.as_ref().map(|p| p.next_index));
            if let (None, Some(p)) = (&replay, progress) {
                resume_at = p.next_index;
                import.summary = pb::ImportAccountsResponse::decode(p.summary.as_slice())
                    .map_err(|e| internal(&e))?;
                tracing::info!(resume_at, "import resumed after a cut stream");
            }
        }
        let record = msg.account.unwrap_or_default();
        digest.bytes(&record.encode_to_vec());
        index += 1;
        if replay.is_some() || index <= resume_at {
            // A completed import's id: only read on, to tell a true repeat from another
            // import. A resumed one: records the cut stream wrote are counted already.
            continue;
        }
        match account_in(&record) {
            Ok(data) => {
                import.batch.push(data);
                import.batch_meta.push((index - 1, record.external_ref));
            }
            Err(v) => import.refuse(index - 1, &record.external_ref, v).await,
        }
        if import.batch.len() >= IMPORT_BATCH {
            import.flush(store, index, clock.now()).await?;
        }
    }
    let digest = digest.finish();
    if let Some(seen) = replay {
        let summary = seen
            .retried_by(IMPORT_METHOD, &digest)
            .ok()
            .and(seen.response)
            .ok_or_else(idempotency_mismatch)?;
        let summary =
            pb::ImportAccountsResponse::decode(summary.as_slice()).map_err(|e| internal(&e))?;
        return Ok(summary);
    }
    import.flush(store, index, clock.now()).await?;
    import.settle().await?;
    // A large import leaves the planner's statistics describing a smaller book: refreshed
    // before answering, so the import is done when it says. The records are committed
    // whatever happens here, so a failure is only logged.
    if let Err(e) = store.import_ended().await {
        tracing::warn!(error = %e, "refreshing planner statistics after an import failed");
    }
    // Rejections found by the store arrive a batch late: list them all in stream order.
    import.summary.rejections.sort_by_key(|r| r.index);
    if !request_id.is_empty() {
        let key = RequestKey {
            subject: &actor,
            request_id: &request_id,
        };
        store
            .save_response(
                key,
                IMPORT_METHOD,
                &digest,
                &import.summary.encode_to_vec(),
                clock.now(),
            )
            .await
            .map_err(store_failed)?;
    }
    tracing::info!(
        records = index,
        created = import.summary.created,
        updated = import.summary.updated,
        unchanged = import.summary.unchanged,
        rejected = import.summary.rejected,
        "import finished"
    );
    Ok(import.summary)
}
