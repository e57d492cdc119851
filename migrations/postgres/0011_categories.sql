-- A debtor category an agent set by hand (SetAccountCategory), in force over the derived one
-- (crates/domain/src/category.rs) until cleared. All four are set together or not at all.
ALTER TABLE accounts ADD COLUMN manual_category TEXT;
ALTER TABLE accounts ADD COLUMN category_reason TEXT;
ALTER TABLE accounts ADD COLUMN category_set_by TEXT;
ALTER TABLE accounts ADD COLUMN category_set_time TIMESTAMPTZ;

-- Documents gain the manual category and the paid-invoice history the derivation reads: stored ones
-- are rebuilt (reads build a missing one on the spot; the background pass stores it).
UPDATE accounts SET view_json = NULL WHERE view_json IS NOT NULL;

-- The account's own fields, the manual category now among them.
CREATE OR REPLACE FUNCTION stale_view_of_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.view_json IS NOT DISTINCT FROM OLD.view_json
       AND (NEW.external_ref, NEW.legal_name, NEW.debtor_type, NEW.country_code, NEW.time_zone,
            NEW.currency_code, NEW.status, NEW.cease_calls, NEW.credit_minor, NEW.create_time,
            NEW.update_time, NEW.interest_waived, NEW.manual_category, NEW.category_reason,
            NEW.category_set_by, NEW.category_set_time)
           IS DISTINCT FROM
           (OLD.external_ref, OLD.legal_name, OLD.debtor_type, OLD.country_code, OLD.time_zone,
            OLD.currency_code, OLD.status, OLD.cease_calls, OLD.credit_minor, OLD.create_time,
            OLD.update_time, OLD.interest_waived, OLD.manual_category, OLD.category_reason,
            OLD.category_set_by, OLD.category_set_time)
    THEN
        NEW.view_json := NULL;
    END IF;
    RETURN NEW;
END $$;
