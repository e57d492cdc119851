-- A debtor category an agent set by hand (SetAccountCategory), in force over the derived one
-- (crates/domain/src/category.rs) until cleared. All four are set together or not at all.
ALTER TABLE accounts ADD COLUMN manual_category TEXT;
ALTER TABLE accounts ADD COLUMN category_reason TEXT;
ALTER TABLE accounts ADD COLUMN category_set_by TEXT;
ALTER TABLE accounts ADD COLUMN category_set_time TEXT;

-- Documents gain the manual category and the paid-invoice history the derivation reads: stored ones
-- are rebuilt (reads build a missing one on the spot; the background pass stores it).
UPDATE accounts SET view_json = NULL WHERE view_json IS NOT NULL;

CREATE TRIGGER accounts_stale_view_category AFTER UPDATE OF manual_category, category_reason,
    category_set_by, category_set_time ON accounts
BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.id AND view_json IS NOT NULL;
END;
