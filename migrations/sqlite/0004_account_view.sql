-- The account view, materialised: `accounts.view_json` holds the account's document (profile, contacts,
-- open invoices with adjustments, recent payments with allocations; see crates/store/src/view.rs) so
-- GetAccount is one indexed row read. NULL means "build it": reads then build it on the fly, so a
-- NULL view_json is slower, never wrong. The triggers below clear it whenever anything it shows changes,
-- so no write path can leave a stale view behind; writers rebuild the views they touched at the end
-- of their transaction, and a background task rebuilds any still NULL.

ALTER TABLE accounts ADD COLUMN view_json TEXT;
CREATE INDEX accounts_view_stale ON accounts (id) WHERE view_json IS NULL;
CREATE TRIGGER contacts_stale_view_insert AFTER INSERT ON contacts BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
CREATE TRIGGER contacts_stale_view_update AFTER UPDATE ON contacts BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
CREATE TRIGGER contacts_stale_view_delete AFTER DELETE ON contacts BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = OLD.account_id AND view_json IS NOT NULL;
END;
CREATE TRIGGER invoices_stale_view_insert AFTER INSERT ON invoices BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
CREATE TRIGGER invoices_stale_view_update AFTER UPDATE ON invoices BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
CREATE TRIGGER invoices_stale_view_delete AFTER DELETE ON invoices BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = OLD.account_id AND view_json IS NOT NULL;
END;
CREATE TRIGGER invoice_adjustments_stale_view_insert AFTER INSERT ON invoice_adjustments BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = (SELECT account_id FROM invoices WHERE id = NEW.invoice_id) AND view_json IS NOT NULL;
END;
CREATE TRIGGER invoice_adjustments_stale_view_update AFTER UPDATE ON invoice_adjustments BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = (SELECT account_id FROM invoices WHERE id = NEW.invoice_id) AND view_json IS NOT NULL;
END;
CREATE TRIGGER invoice_adjustments_stale_view_delete AFTER DELETE ON invoice_adjustments BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = (SELECT account_id FROM invoices WHERE id = OLD.invoice_id) AND view_json IS NOT NULL;
END;
CREATE TRIGGER payments_stale_view_insert AFTER INSERT ON payments BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
CREATE TRIGGER payments_stale_view_update AFTER UPDATE ON payments BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
CREATE TRIGGER payments_stale_view_delete AFTER DELETE ON payments BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = OLD.account_id AND view_json IS NOT NULL;
END;
CREATE TRIGGER payment_allocations_stale_view_insert AFTER INSERT ON payment_allocations BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = (SELECT account_id FROM payments WHERE id = NEW.payment_id) AND view_json IS NOT NULL;
END;
CREATE TRIGGER payment_allocations_stale_view_update AFTER UPDATE ON payment_allocations BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = (SELECT account_id FROM payments WHERE id = NEW.payment_id) AND view_json IS NOT NULL;
END;
CREATE TRIGGER payment_allocations_stale_view_delete AFTER DELETE ON payment_allocations BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = (SELECT account_id FROM payments WHERE id = OLD.payment_id) AND view_json IS NOT NULL;
END;
CREATE TRIGGER accounts_stale_view AFTER UPDATE OF external_ref, legal_name, debtor_type,
    country_code, time_zone, currency_code, status, cease_calls, credit_minor, create_time, update_time
    ON accounts
BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.id AND view_json IS NOT NULL;
END;
