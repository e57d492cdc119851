-- An import stream with a request_id records how far it got with each batch it writes (in that
-- batch's transaction when the batch changed anything): a stream cut mid-way (connection age, a
-- deploy, a network fault) resumes when it is sent again under the same request_id. Records before
-- `next_index` are then skipped, and the summary carries on from `summary` (the
-- ImportAccountsResponse so far, as protobuf). Forgotten with the idempotency ledger, after
-- policy.requests.keep_days.
CREATE TABLE import_progress (
    subject     TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    next_index  INTEGER NOT NULL,
    summary     BLOB NOT NULL,
    update_time TEXT NOT NULL,
    PRIMARY KEY (subject, request_id)
);
CREATE INDEX import_progress_update_time ON import_progress (update_time);
