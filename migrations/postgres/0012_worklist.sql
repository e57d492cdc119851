-- The worklist (crates/domain/src/worklist.rs), kept per account so that GetWorklist is one indexed
-- read however large the book. recoupd computes each entry from the account's view and saves it
-- only if the view has not changed since (`version`); any change to the account marks the entry
-- stale, and a stale entry is never listed, so a call just recorded takes the account off the list
-- at once.
CREATE TABLE worklist (
    account_id     BIGINT  PRIMARY KEY REFERENCES accounts (id),
    version        BIGINT  NOT NULL DEFAULT 0,
    stale          BOOLEAN NOT NULL DEFAULT TRUE,
    -- NULL: no place on the list (nothing overdue, or a lasting block).
    score          BIGINT,
    -- When the contact rules allow the call: from (inclusive) until (exclusive).
    callable_from  TIMESTAMPTZ,
    callable_until TIMESTAMPTZ,
    -- The reasons, as a JSON array of strings.
    reasons        TEXT    NOT NULL DEFAULT '[]',
    -- When the entry must be computed again (its window ends, or the debtor's day changes).
    next_check     TIMESTAMPTZ
);
-- GetWorklist: listed entries in rank order.
CREATE INDEX worklist_rank ON worklist (score DESC, account_id DESC) WHERE NOT stale AND score IS NOT NULL;
-- The refresher: stale entries, and entries due a fresh look.
CREATE INDEX worklist_stale ON worklist (account_id) WHERE stale;
CREATE INDEX worklist_next_check ON worklist (next_check) WHERE NOT stale;

INSERT INTO worklist (account_id) SELECT id FROM accounts;

-- Per statement (transition tables), so a bulk import or a payment batch pays once.
CREATE FUNCTION worklist_new_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO worklist (account_id) SELECT id FROM changed;
    RETURN NULL;
END $$;
CREATE TRIGGER worklist_new_account AFTER INSERT ON accounts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION worklist_new_accounts();

CREATE FUNCTION worklist_stale_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE worklist SET stale = TRUE, version = version + 1
    WHERE account_id IN (SELECT id FROM changed);
    RETURN NULL;
END $$;
CREATE TRIGGER worklist_stale AFTER UPDATE ON accounts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION worklist_stale_accounts();
