-- The idempotency ledger keeps a request for policy.requests.keep_days: a background pass forgets
-- older keys by their first use.
CREATE INDEX requests_create_time ON requests (create_time);
