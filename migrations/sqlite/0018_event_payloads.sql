-- An event keeps the resource as its change left it when a later change can alter that resource (a
-- payment's allocations, which an import may take back; a plan's state): the feed delivers this,
-- never the row as it stands when read. NULL for resources that never change once written (calls,
-- letters: append-only), for changes with nothing to show, and for events older than this column.
ALTER TABLE events ADD COLUMN payload TEXT;
