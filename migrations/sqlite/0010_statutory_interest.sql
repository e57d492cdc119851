-- Statutory late-payment interest (crates/domain/src/interest.rs) is computed at read time from the
-- view document; it needs each open invoice's payments with their dates (read on the index
-- payment_allocations_invoice, migration 0003), and the account's waiver.

-- Set on import when the creditor waives statutory interest for the account.
ALTER TABLE accounts ADD COLUMN interest_waived INTEGER NOT NULL DEFAULT 0;

-- Documents gain the waiver and those payments: stored ones are rebuilt (reads build a missing one
-- on the spot; the background pass stores it).
UPDATE accounts SET view_json = NULL WHERE view_json IS NOT NULL;

CREATE TRIGGER accounts_stale_view_waiver AFTER UPDATE OF interest_waived ON accounts BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.id AND view_json IS NOT NULL;
END;
