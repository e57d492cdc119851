-- Each entry carries what GetWorklist shows of its account (the server's encoding of the account's
-- BASIC view, computed with the entry from the same version of the view), so a page is read from
-- the worklist alone: no view document decoded, no account judged again per request. Entries
-- computed before this are computed again by the background pass.
ALTER TABLE worklist ADD COLUMN summary TEXT;
UPDATE worklist SET stale = TRUE WHERE NOT stale;
