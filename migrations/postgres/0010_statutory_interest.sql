-- Statutory late-payment interest (crates/domain/src/interest.rs) is computed at read time from the
-- view document; it needs each open invoice's payments with their dates (read on the index
-- payment_allocations_invoice, migration 0003), and the account's waiver.

-- Set on import when the creditor waives statutory interest for the account.
ALTER TABLE accounts ADD COLUMN interest_waived BOOLEAN NOT NULL DEFAULT FALSE;

-- Documents gain the waiver and those payments: stored ones are rebuilt (reads build a missing one
-- on the spot; the background pass stores it).
UPDATE accounts SET view_json = NULL WHERE view_json IS NOT NULL;

-- The account's own fields, the waiver now among them.
CREATE OR REPLACE FUNCTION stale_view_of_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.view_json IS NOT DISTINCT FROM OLD.view_json
       AND (NEW.external_ref, NEW.legal_name, NEW.debtor_type, NEW.country_code, NEW.time_zone,
            NEW.currency_code, NEW.status, NEW.cease_calls, NEW.credit_minor, NEW.create_time,
            NEW.update_time, NEW.interest_waived)
           IS DISTINCT FROM
           (OLD.external_ref, OLD.legal_name, OLD.debtor_type, OLD.country_code, OLD.time_zone,
            OLD.currency_code, OLD.status, OLD.cease_calls, OLD.credit_minor, OLD.create_time,
            OLD.update_time, OLD.interest_waived)
    THEN
        NEW.view_json := NULL;
    END IF;
    RETURN NEW;
END $$;
