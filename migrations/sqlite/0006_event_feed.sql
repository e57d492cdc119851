-- The change feed (WatchEvents) reads `events` by id. SQLite has one writer at a time, so ids are
-- assigned in commit order already. Watching a few types reads through this index.
CREATE INDEX events_type ON events (event_type, id);
