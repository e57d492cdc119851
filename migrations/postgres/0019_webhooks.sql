-- Webhook endpoints (`recoupd webhooks`): the change feed posted to CRMs that cannot hold a stream
-- open. Each endpoint keeps its own position in the feed: events are posted one at a time in feed
-- order, a failed one retried with backoff (`attempts`, `retry_time`) and, after the last try,
-- dead-lettered for that endpoint (`webhook_dead_letters`) so the next can follow. A server
-- delivering to an endpoint holds it (`lease_until`) so replicas never post the same events twice
-- at once.
CREATE TABLE webhooks (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         TEXT        NOT NULL,
    event_types TEXT        NOT NULL,
    secret      TEXT        NOT NULL,
    position    BIGINT      NOT NULL,
    attempts    BIGINT      NOT NULL DEFAULT 0,
    retry_time  TIMESTAMPTZ,
    last_error  TEXT,
    lease_until TIMESTAMPTZ,
    created_by  TEXT        NOT NULL,
    create_time TIMESTAMPTZ NOT NULL
);

CREATE TABLE webhook_dead_letters (
    webhook_id BIGINT      NOT NULL REFERENCES webhooks (id),
    event_id   BIGINT      NOT NULL,
    attempts   BIGINT      NOT NULL,
    last_error TEXT        NOT NULL,
    dead_time  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (webhook_id, event_id)
);
