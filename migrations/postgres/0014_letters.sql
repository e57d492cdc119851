-- Letters produced (RenderLetter): each one kept as written, as a copy of the correspondence, with
-- its event. Append-only like calls: a letter, once sent, is never changed.
CREATE TABLE letters (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    BIGINT  NOT NULL REFERENCES accounts (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('pre_call_statement', 'first_reminder',
                      'second_reminder', 'final_notice', 'plan_agreement',
                      'agency_referral_notice', 'dispute_acknowledgement')),
    locale        TEXT    NOT NULL,
    plan_id       BIGINT REFERENCES plans (id),
    subject       TEXT    NOT NULL,
    body_text     TEXT    NOT NULL,
    body_markdown TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    create_time   TIMESTAMPTZ NOT NULL
);
CREATE INDEX letters_account ON letters (account_id, id);
CREATE FUNCTION letters_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'letters are append-only';
END $$;
CREATE TRIGGER letters_no_change BEFORE UPDATE OR DELETE ON letters
    FOR EACH ROW EXECUTE FUNCTION letters_append_only();
CREATE TRIGGER letters_no_truncate BEFORE TRUNCATE ON letters
    FOR EACH STATEMENT EXECUTE FUNCTION letters_append_only();
CREATE TRIGGER letters_stale_view_insert AFTER INSERT ON letters
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_account();
