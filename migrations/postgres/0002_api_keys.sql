-- API keys. Only a SHA-256 digest of each secret is kept; `key_id` is the public part of the key,
-- used to find the row, and is safe to show and log.
CREATE TABLE api_keys (
    key_id      TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    role        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    create_time TIMESTAMPTZ NOT NULL,
    expire_time TIMESTAMPTZ,
    revoke_time TIMESTAMPTZ
);
CREATE INDEX api_keys_subject ON api_keys (subject);
