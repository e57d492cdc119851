-- The account view, materialised: `accounts.view_json` holds the account's document (profile, contacts,
-- open invoices with adjustments, recent payments with allocations; see crates/store/src/view.rs) so
-- GetAccount is one indexed row read. NULL means "build it": reads then build it on the fly, so a
-- NULL view_json is slower, never wrong. The triggers below clear it whenever anything it shows changes,
-- so no write path can leave a stale view behind; writers rebuild the views they touched at the end
-- of their transaction, and a background task rebuilds any still NULL.
-- PostgreSQL clears views per statement (transition tables), so bulk writes pay once per statement.

ALTER TABLE accounts ADD COLUMN view_json TEXT;
CREATE INDEX accounts_view_stale ON accounts (id) WHERE view_json IS NULL;

CREATE FUNCTION stale_views_by_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET view_json = NULL
    WHERE id IN (SELECT account_id FROM changed) AND view_json IS NOT NULL;
    RETURN NULL;
END $$;

CREATE FUNCTION stale_views_by_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET view_json = NULL
    WHERE id IN (SELECT i.account_id FROM invoices i JOIN changed c ON c.invoice_id = i.id)
      AND view_json IS NOT NULL;
    RETURN NULL;
END $$;

CREATE FUNCTION stale_views_by_payment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET view_json = NULL
    WHERE id IN (SELECT p.account_id FROM payments p JOIN changed c ON c.payment_id = p.id)
      AND view_json IS NOT NULL;
    RETURN NULL;
END $$;

CREATE TRIGGER contacts_stale_view_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_account();
CREATE TRIGGER contacts_stale_view_update AFTER UPDATE ON contacts
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_account();
CREATE TRIGGER contacts_stale_view_delete AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_account();
CREATE TRIGGER invoices_stale_view_insert AFTER INSERT ON invoices
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_account();
CREATE TRIGGER invoices_stale_view_update AFTER UPDATE ON invoices
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_account();
CREATE TRIGGER invoices_stale_view_delete AFTER DELETE ON invoices
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_account();
CREATE TRIGGER invoice_adjustments_stale_view_insert AFTER INSERT ON invoice_adjustments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_invoice();
CREATE TRIGGER invoice_adjustments_stale_view_update AFTER UPDATE ON invoice_adjustments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_invoice();
CREATE TRIGGER invoice_adjustments_stale_view_delete AFTER DELETE ON invoice_adjustments
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_invoice();
CREATE TRIGGER payments_stale_view_insert AFTER INSERT ON payments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_account();
CREATE TRIGGER payments_stale_view_update AFTER UPDATE ON payments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_account();
CREATE TRIGGER payments_stale_view_delete AFTER DELETE ON payments
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_account();
CREATE TRIGGER payment_allocations_stale_view_insert AFTER INSERT ON payment_allocations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_payment();
CREATE TRIGGER payment_allocations_stale_view_update AFTER UPDATE ON payment_allocations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_payment();
CREATE TRIGGER payment_allocations_stale_view_delete AFTER DELETE ON payment_allocations
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION stale_views_by_payment();

-- The account's own fields: cleared in the row being updated, unless the update sets the view.
CREATE FUNCTION stale_view_of_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.view_json IS NOT DISTINCT FROM OLD.view_json
       AND (NEW.external_ref, NEW.legal_name, NEW.debtor_type, NEW.country_code, NEW.time_zone,
            NEW.currency_code, NEW.status, NEW.cease_calls, NEW.credit_minor, NEW.create_time,
            NEW.update_time)
           IS DISTINCT FROM
           (OLD.external_ref, OLD.legal_name, OLD.debtor_type, OLD.country_code, OLD.time_zone,
            OLD.currency_code, OLD.status, OLD.cease_calls, OLD.credit_minor, OLD.create_time,
            OLD.update_time)
    THEN
        NEW.view_json := NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_stale_view BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION stale_view_of_account();
