-- Webhook endpoints (`recoupd webhooks`): the change feed posted to CRMs that cannot hold a stream
-- open. Each endpoint keeps its own position in the feed: events are posted one at a time in feed
-- order, a failed one retried with backoff (`attempts`, `retry_time`) and, after the last try,
-- dead-lettered for that endpoint (`webhook_dead_letters`) so the next can follow. A server
-- delivering to an endpoint holds it (`lease_until`) so replicas never post the same events twice
-- at once.
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    url         TEXT    NOT NULL,
    event_types TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    retry_time  TEXT,
    last_error  TEXT,
    lease_until TEXT,
    created_by  TEXT    NOT NULL,
    create_time TEXT    NOT NULL
);

CREATE TABLE webhook_dead_letters (
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id),
    event_id   INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT    NOT NULL,
    dead_time  TEXT    NOT NULL,
    PRIMARY KEY (webhook_id, event_id)
);
