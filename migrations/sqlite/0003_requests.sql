-- no-transaction
-- Idempotency keys become per caller: a request_id is unique for its credential subject only, so one
-- integration can never be answered with another's result. Every mutating RPC records its key here.
-- Also: invoices may no longer owe a negative amount (see the triggers at the end).
--
-- SQLite cannot drop the UNIQUE column payments.request_id in place, so `payments` is rebuilt (the
-- documented 12-step procedure): foreign keys off, one transaction, then back on.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE requests (
    -- The credential subject that sent the request.
    subject     TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    -- The RPC, e.g. "RecordPayment".
    method      TEXT NOT NULL,
    -- Digest of the request's content, to tell a retry from another request reusing the key.
    fingerprint TEXT NOT NULL,
    -- What the request created (e.g. accounts/7/payments/31), returned to a retry; or '' when the
    -- request keeps its own answer in `response`.
    resource    TEXT NOT NULL,
    -- The encoded answer, for requests that created no single resource (ImportAccounts).
    response    BLOB,
    create_time TEXT NOT NULL,
    PRIMARY KEY (subject, request_id)
);

-- Payments keep their key under the subject that recorded them (the actor of their event).
INSERT INTO requests (subject, request_id, method, fingerprint, resource, response, create_time)
SELECT COALESCE(e.actor, ''), p.request_id, 'RecordPayment', p.request_fingerprint,
       'accounts/' || p.account_id || '/payments/' || p.id, NULL, p.create_time
FROM payments p
LEFT JOIN events e ON e.event_type = 'payment_recorded'
    AND e.resource = 'accounts/' || p.account_id || '/payments/' || p.id;

-- Completed imports never recorded who sent them: they are kept under the empty subject, which no
-- credential has, so a resend is imported again (harmless: unchanged records are not touched).
INSERT OR IGNORE INTO requests (subject, request_id, method, fingerprint, resource, response, create_time)
SELECT '', request_id, 'ImportAccounts', fingerprint, '', summary, create_time FROM import_runs;
DROP TABLE import_runs;

CREATE TABLE payments_new (
    id                  INTEGER PRIMARY KEY,
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    amount_minor        INTEGER NOT NULL,
    payment_date        TEXT    NOT NULL,
    reference           TEXT    NOT NULL,
    -- Invoice numbers the payment named, joined by U+001F (a control character no number may hold).
    invoice_numbers     TEXT    NOT NULL,
    unallocated_minor   INTEGER NOT NULL CHECK (unallocated_minor >= 0),
    create_time         TEXT    NOT NULL
);
INSERT INTO payments_new (id, account_id, amount_minor, payment_date, reference, invoice_numbers,
                          unallocated_minor, create_time)
SELECT id, account_id, amount_minor, payment_date, reference, invoice_numbers, unallocated_minor,
       create_time
FROM payments;
DROP TABLE payments;
ALTER TABLE payments_new RENAME TO payments;
CREATE INDEX payments_account ON payments (account_id, payment_date, id);
CREATE INDEX payment_allocations_invoice ON payment_allocations (invoice_id, payment_id);

-- An invoice owes zero or more: a credit note may not exceed its invoice, and an invoice lowered
-- below what was paid hands the excess back to its payments as credit. Rows written before this
-- migration are left as they were.
CREATE TRIGGER invoices_owing_not_negative_insert BEFORE INSERT ON invoices
WHEN NEW.outstanding_minor < 0 OR NEW.paid_minor < 0
BEGIN
    SELECT RAISE(ABORT, 'invoices_owing_not_negative');
END;
CREATE TRIGGER invoices_owing_not_negative_update BEFORE UPDATE OF outstanding_minor, paid_minor ON invoices
WHEN NEW.outstanding_minor < 0 OR NEW.paid_minor < 0
BEGIN
    SELECT RAISE(ABORT, 'invoices_owing_not_negative');
END;

COMMIT;
PRAGMA foreign_keys = ON;
