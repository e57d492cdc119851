-- The change feed (WatchEvents) reads `events` by id, so ids must become visible in id order: an
-- identity value is taken at insert but seen at commit, and a reader that has moved past id 11 would
-- never see an id 10 committed after it. So every statement inserting events first takes one
-- transaction-level advisory lock, held to commit: the next writer's ids are drawn only after this
-- transaction's commit is visible, which makes id order commit order. Writers insert their events
-- last (only the ledger and the view of rows they already hold follow), so the lock is held briefly.
CREATE FUNCTION events_in_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7390511);
    RETURN NULL;
END $$;
CREATE TRIGGER events_in_commit_order BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_in_commit_order();

-- Watching a few types reads through this index.
CREATE INDEX events_type ON events (event_type, id);
