-- Accounts, contacts, invoices, payments, and the outbox. Money is integer minor units beside the
-- account's ISO 4217 code; dates are DATE; times are bound from Rust, never defaulted.

CREATE TABLE accounts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_ref  TEXT    NOT NULL UNIQUE,
    legal_name    TEXT    NOT NULL,
    debtor_type   TEXT    NOT NULL,
    country_code  TEXT    NOT NULL,
    time_zone     TEXT    NOT NULL,
    currency_code TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    cease_calls   BOOLEAN NOT NULL,
    -- Payments received and not allocated to any invoice.
    credit_minor  BIGINT  NOT NULL DEFAULT 0,
    -- Digest of profile and contacts, so an unchanged import record is recognised without a reload.
    profile_hash  TEXT    NOT NULL,
    create_time   TIMESTAMPTZ NOT NULL,
    update_time   TIMESTAMPTZ NOT NULL
);
CREATE INDEX accounts_status ON accounts (status, id);
CREATE INDEX accounts_time_zone ON accounts (time_zone);

CREATE TABLE contacts (
    account_id   BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    display_name TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    phone        TEXT    NOT NULL,
    email        TEXT    NOT NULL,
    preferred    BOOLEAN NOT NULL,
    PRIMARY KEY (account_id, position)
);

CREATE TABLE invoices (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        BIGINT  NOT NULL REFERENCES accounts (id),
    number            TEXT    NOT NULL,
    issue_date        DATE    NOT NULL,
    due_date          DATE    NOT NULL,
    amount_minor      BIGINT  NOT NULL,
    -- Signed sum of adjustments: debits minus credit notes.
    adjusted_minor    BIGINT  NOT NULL,
    -- Sum of payment allocations.
    paid_minor        BIGINT  NOT NULL DEFAULT 0,
    -- amount + adjusted - paid, kept in step by every write so filters need no aggregation.
    outstanding_minor BIGINT  NOT NULL,
    disputed          BOOLEAN NOT NULL,
    dispute_reason    TEXT    NOT NULL,
    content_hash      TEXT    NOT NULL,
    create_time       TIMESTAMPTZ NOT NULL,
    update_time       TIMESTAMPTZ NOT NULL,
    UNIQUE (account_id, number)
);
CREATE INDEX invoices_open ON invoices (account_id, due_date) WHERE outstanding_minor <> 0;
CREATE INDEX invoices_overdue ON invoices (due_date, account_id) WHERE outstanding_minor > 0;

CREATE TABLE invoice_adjustments (
    invoice_id   BIGINT  NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    reference    TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    amount_minor BIGINT  NOT NULL,
    date         DATE    NOT NULL,
    reason       TEXT    NOT NULL,
    PRIMARY KEY (invoice_id, reference)
);

CREATE TABLE payments (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id          BIGINT  NOT NULL REFERENCES accounts (id),
    request_id          TEXT    NOT NULL UNIQUE,
    request_fingerprint TEXT    NOT NULL,
    amount_minor        BIGINT  NOT NULL,
    payment_date        DATE    NOT NULL,
    reference           TEXT    NOT NULL,
    -- Invoice numbers the payment named, joined by U+001F (a control character no number may hold).
    invoice_numbers     TEXT    NOT NULL,
    unallocated_minor   BIGINT  NOT NULL,
    create_time         TIMESTAMPTZ NOT NULL
);
CREATE INDEX payments_account ON payments (account_id, payment_date, id);

CREATE TABLE payment_allocations (
    payment_id   BIGINT  NOT NULL REFERENCES payments (id),
    position     INTEGER NOT NULL,
    invoice_id   BIGINT  NOT NULL REFERENCES invoices (id),
    amount_minor BIGINT  NOT NULL,
    PRIMARY KEY (payment_id, position)
);

-- Completed imports by request_id: the digest of the stream (to tell a repeat from a different
-- import reusing the id) and the encoded summary returned to a repeat.
CREATE TABLE import_runs (
    request_id  TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    summary     BYTEA NOT NULL,
    create_time TIMESTAMPTZ NOT NULL
);

-- The outbox: one row per change, written in the change's own transaction (WatchEvents reads it).
CREATE TABLE events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    create_time TIMESTAMPTZ NOT NULL,
    event_type  TEXT    NOT NULL,
    account_id  BIGINT  NOT NULL REFERENCES accounts (id),
    resource    TEXT    NOT NULL,
    actor       TEXT    NOT NULL
);
CREATE INDEX events_account ON events (account_id, id);

-- One-off markers (e.g. the demo book was loaded).
CREATE TABLE markers (
    name        TEXT PRIMARY KEY,
    create_time TIMESTAMPTZ NOT NULL
);
