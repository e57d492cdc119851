-- Call records: what happened on each call, as the agent recorded it. They may be evidence in a
-- dispute, so they are append-only and the database enforces it: an UPDATE, DELETE or TRUNCATE fails.
-- A correction is a new record naming the one it corrects (`corrects`), with its own reason.

CREATE TABLE calls (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        BIGINT  NOT NULL REFERENCES accounts (id),
    direction         TEXT    NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    start_time        TIMESTAMPTZ NOT NULL,
    -- Milliseconds; NULL when not given.
    duration_ms       BIGINT CHECK (duration_ms >= 0),
    contact_name      TEXT    NOT NULL,
    right_party       BOOLEAN NOT NULL,
    -- What came of it (`no_answer`, `promise_to_pay`, …; see crates/domain/src/call.rs) and the
    -- outcome's own fields as JSON.
    outcome           TEXT    NOT NULL,
    details           TEXT    NOT NULL,
    -- Outcome fields the rules read, kept as columns: a promise's amount and date, a callback's time.
    promise_minor     BIGINT CHECK (promise_minor > 0),
    promise_date      DATE,
    callback_time     TIMESTAMPTZ,
    notes             TEXT    NOT NULL,
    next_step         TEXT    NOT NULL,
    -- A supervisor's permission to call outside the contact rules.
    override_reason   TEXT,
    override_by       TEXT,
    corrects          BIGINT REFERENCES calls (id),
    correction_reason TEXT,
    agent             TEXT    NOT NULL,
    create_time       TIMESTAMPTZ NOT NULL,
    CHECK ((corrects IS NULL) = (correction_reason IS NULL)),
    CHECK ((override_reason IS NULL) = (override_by IS NULL))
);
CREATE INDEX calls_account_start ON calls (account_id, start_time, id);
CREATE INDEX calls_corrects ON calls (corrects) WHERE corrects IS NOT NULL;

CREATE FUNCTION calls_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'call records are append-only: record a correction instead'
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER calls_no_update BEFORE UPDATE OR DELETE ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_append_only();
CREATE TRIGGER calls_no_truncate BEFORE TRUNCATE ON calls
    FOR EACH STATEMENT EXECUTE FUNCTION calls_append_only();
CREATE TRIGGER calls_stale_view_insert AFTER INSERT ON calls
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_account();
