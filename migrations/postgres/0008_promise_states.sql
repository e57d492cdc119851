-- The last state of each promise to pay that the change feed has announced, so each change of
-- state (made, kept, partly kept, broken, superseded) is announced once. Judged by recoupd from the
-- promises and the payments received (crates/domain/src/promise.rs).
CREATE TABLE promise_states (
    call_id     BIGINT  PRIMARY KEY REFERENCES calls (id),
    state       TEXT    NOT NULL CHECK (state IN ('open', 'kept', 'partially_kept', 'broken', 'superseded')),
    paid_minor  BIGINT  NOT NULL,
    update_time TIMESTAMPTZ NOT NULL
);
-- Promise calls, for finding the accounts whose promises may still change.
CREATE INDEX calls_promises ON calls (account_id, id) WHERE outcome = 'promise_to_pay';
