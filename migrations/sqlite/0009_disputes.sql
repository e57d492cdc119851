-- Disputes raised in recoup (RaiseDispute, or a call whose outcome was dispute_raised). While a
-- dispute is open its invoices are paused: `invoices.disputed` is set, so they are neither chased nor
-- counted as collectable. A supervisor resolves it: upheld leaves a credit note per invoice
-- (an invoice_adjustments row naming the dispute) that clears what was outstanding; rejected makes
-- the invoices collectable again.

CREATE TABLE disputes (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    reason       TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('open', 'upheld', 'rejected')),
    raised_by    TEXT    NOT NULL,
    raise_time   TEXT    NOT NULL,
    -- The call it was raised on, when it came from recording a call.
    call_id      INTEGER REFERENCES calls (id),
    resolved_by  TEXT,
    resolution   TEXT,
    resolve_time TEXT,
    CHECK ((state = 'open') = (resolve_time IS NULL)),
    CHECK ((resolve_time IS NULL) = (resolved_by IS NULL)),
    CHECK ((resolve_time IS NULL) = (resolution IS NULL))
);
CREATE INDEX disputes_account ON disputes (account_id, id);
CREATE INDEX disputes_open ON disputes (account_id, id) WHERE state = 'open';

CREATE TABLE dispute_invoices (
    dispute_id   INTEGER NOT NULL REFERENCES disputes (id),
    position     INTEGER NOT NULL,
    invoice_id   INTEGER NOT NULL REFERENCES invoices (id),
    -- The credit note an upheld dispute issued on the invoice (what it still owed) and its date in
    -- the debtor's zone; NULL otherwise. Kept here too, so the dispute's record stays whole even
    -- after the CRM books the note under its own reference.
    credit_minor INTEGER CHECK (credit_minor > 0),
    credit_date  TEXT,
    -- Set while the dispute is open: the database holds every invoice to one open dispute.
    open         INTEGER NOT NULL CHECK (open IN (0, 1)),
    PRIMARY KEY (dispute_id, position)
);
CREATE UNIQUE INDEX dispute_invoices_open ON dispute_invoices (invoice_id) WHERE open;
CREATE INDEX dispute_invoices_invoice ON dispute_invoices (invoice_id);

-- The CRM's own `disputed` flag as last imported; `disputed` is that or an open dispute here, so an
-- import never reopens what recoup paused, and resolving a dispute never clears the CRM's flag.
ALTER TABLE invoices ADD COLUMN crm_disputed INTEGER NOT NULL DEFAULT 0;
UPDATE invoices SET crm_disputed = disputed WHERE disputed;

-- A credit note recoup issued names its dispute; an import replaces only the CRM's adjustments
-- (those without one), and one of the CRM's with the same reference takes the place of ours.
ALTER TABLE invoice_adjustments ADD COLUMN dispute_id INTEGER REFERENCES disputes (id);

CREATE TRIGGER disputes_stale_view_insert AFTER INSERT ON disputes BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
CREATE TRIGGER disputes_stale_view_update AFTER UPDATE ON disputes BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
