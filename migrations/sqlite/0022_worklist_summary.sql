-- Each entry carries what GetWorklist shows of its account (the server's encoding of the account's
-- BASIC view, computed with the entry from the same version of the view), so a page is read from
-- the worklist alone: no view document decoded, no account judged again per request. Entries
-- computed before this are computed again by the background pass.
ALTER TABLE worklist ADD COLUMN summary TEXT;
UPDATE worklist SET stale = TRUE WHERE NOT stale;
-- The rank indexes carry the call window, so a walk passes over entries not callable now without
-- reading their rows (only a fifth of a book may be callable at a given hour).
DROP INDEX worklist_rank;
CREATE INDEX worklist_rank ON worklist (score DESC, account_id DESC, callable_from, callable_until)
    WHERE NOT stale AND score IS NOT NULL;
DROP INDEX worklist_queue_rank;
CREATE INDEX worklist_queue_rank ON worklist (queue, score DESC, account_id DESC, callable_from, callable_until)
    WHERE NOT stale AND score IS NOT NULL;
