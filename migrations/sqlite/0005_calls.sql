-- Call records: what happened on each call, as the agent recorded it. They may be evidence in a
-- dispute, so they are append-only and the database enforces it: an UPDATE or DELETE fails. A
-- correction is a new record naming the one it corrects (`corrects`), with its own reason.

CREATE TABLE calls (
    id                INTEGER PRIMARY KEY,
    account_id        INTEGER NOT NULL REFERENCES accounts (id),
    direction         TEXT    NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    start_time        TEXT    NOT NULL,
    -- Milliseconds; NULL when not given.
    duration_ms       INTEGER CHECK (duration_ms >= 0),
    contact_name      TEXT    NOT NULL,
    right_party       INTEGER NOT NULL CHECK (right_party IN (0, 1)),
    -- What came of it (`no_answer`, `promise_to_pay`, …; see crates/domain/src/call.rs) and the
    -- outcome's own fields as JSON.
    outcome           TEXT    NOT NULL,
    details           TEXT    NOT NULL,
    -- Outcome fields the rules read, kept as columns: a promise's amount and date, a callback's time.
    promise_minor     INTEGER CHECK (promise_minor > 0),
    promise_date      TEXT,
    callback_time     TEXT,
    notes             TEXT    NOT NULL,
    next_step         TEXT    NOT NULL,
    -- A supervisor's permission to call outside the contact rules.
    override_reason   TEXT,
    override_by       TEXT,
    corrects          INTEGER REFERENCES calls (id),
    correction_reason TEXT,
    agent             TEXT    NOT NULL,
    create_time       TEXT    NOT NULL,
    CHECK ((corrects IS NULL) = (correction_reason IS NULL)),
    CHECK ((override_reason IS NULL) = (override_by IS NULL))
);
CREATE INDEX calls_account_start ON calls (account_id, start_time, id);
CREATE INDEX calls_corrects ON calls (corrects) WHERE corrects IS NOT NULL;

CREATE TRIGGER calls_no_update BEFORE UPDATE ON calls BEGIN
    SELECT RAISE(ABORT, 'call records are append-only: record a correction instead');
END;
CREATE TRIGGER calls_no_delete BEFORE DELETE ON calls BEGIN
    SELECT RAISE(ABORT, 'call records are append-only: record a correction instead');
END;
CREATE TRIGGER calls_stale_view_insert AFTER INSERT ON calls BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
