-- Each event names the request that made the change (the caller's idempotency key; empty for an
-- import sent without one), so the events table is the audit trail: who (actor), which request,
-- what (type and resource), when.
ALTER TABLE events ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
