-- Letters produced (RenderLetter): each one kept as written, as a copy of the correspondence, with
-- its event. Append-only like calls: a letter, once sent, is never changed.
CREATE TABLE letters (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('pre_call_statement', 'first_reminder',
                      'second_reminder', 'final_notice', 'plan_agreement',
                      'agency_referral_notice', 'dispute_acknowledgement')),
    locale        TEXT    NOT NULL,
    plan_id       INTEGER REFERENCES plans (id),
    subject       TEXT    NOT NULL,
    body_text     TEXT    NOT NULL,
    body_markdown TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    create_time   TEXT    NOT NULL
);
CREATE INDEX letters_account ON letters (account_id, id);
CREATE TRIGGER letters_no_update BEFORE UPDATE ON letters BEGIN
    SELECT RAISE(ABORT, 'letters are append-only');
END;
CREATE TRIGGER letters_no_delete BEFORE DELETE ON letters BEGIN
    SELECT RAISE(ABORT, 'letters are append-only');
END;
CREATE TRIGGER letters_stale_view_insert AFTER INSERT ON letters BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
