-- Idempotency keys become per caller: a request_id is unique for its credential subject only, so one
-- integration can never be answered with another's result. Every mutating RPC records its key here.
-- Also: invoices may no longer owe a negative amount (see the constraint at the end).

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
    response    BYTEA,
    create_time TIMESTAMPTZ NOT NULL,
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
INSERT INTO requests (subject, request_id, method, fingerprint, resource, response, create_time)
SELECT '', request_id, 'ImportAccounts', fingerprint, '', summary, create_time FROM import_runs
ON CONFLICT DO NOTHING;
DROP TABLE import_runs;

ALTER TABLE payments DROP COLUMN request_id, DROP COLUMN request_fingerprint;
ALTER TABLE payments ADD CONSTRAINT payments_unallocated_not_negative CHECK (unallocated_minor >= 0);
CREATE INDEX payment_allocations_invoice ON payment_allocations (invoice_id, payment_id);

-- An invoice owes zero or more: a credit note may not exceed its invoice, and an invoice lowered
-- below what was paid hands the excess back to its payments as credit. Rows written before this
-- migration are not checked (NOT VALID).
ALTER TABLE invoices ADD CONSTRAINT invoices_owing_not_negative
    CHECK (outstanding_minor >= 0 AND paid_minor >= 0) NOT VALID;
