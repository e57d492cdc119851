-- Payment plans (PlanService). A plan is agreed on a call, may await a supervisor's approval (a
-- settlement beyond an agent's authority), then the debtor's signature, and is then in force until
-- paid (completed), broken (too many instalments missed) or replaced by a newer plan (cancelled).
-- What was agreed (`detail`: the proposal, its schedule, total and discount, as JSON) never changes;
-- payments recorded after the plan (id above `after_payment_id`) pay its instalments in order
-- (crates/domain/src/plan/track.rs).

CREATE TABLE plans (
    id               INTEGER PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES accounts (id),
    state            TEXT    NOT NULL CHECK (state IN ('awaiting_approval', 'awaiting_signature',
                         'active', 'completed', 'broken', 'cancelled')),
    detail           TEXT    NOT NULL,
    agreement        TEXT    NOT NULL,
    -- The last payment recorded on the account before the plan; later ones pay towards it.
    after_payment_id INTEGER NOT NULL,
    proposed_by      TEXT    NOT NULL,
    -- The least role that may approve it, when it needed approval.
    approval_role    TEXT,
    approved_by      TEXT,
    approve_time     TEXT,
    signatory        TEXT,
    sign_time        TEXT,
    create_time      TEXT    NOT NULL,
    -- Why and when it stopped being live (completed, broken, cancelled).
    end_reason       TEXT,
    -- The last payment recorded while it was live (the ones that count towards it).
    end_payment_id   INTEGER,
    end_time         TEXT,
    CHECK ((approved_by IS NULL) = (approve_time IS NULL)),
    CHECK ((signatory IS NULL) = (sign_time IS NULL)),
    CHECK ((end_time IS NULL) = (state IN ('awaiting_approval', 'awaiting_signature', 'active')))
);
CREATE INDEX plans_account ON plans (account_id, id);
-- One live plan per account, held by the database.
CREATE UNIQUE INDEX plans_live ON plans (account_id)
    WHERE state IN ('awaiting_approval', 'awaiting_signature', 'active');
CREATE INDEX plans_active ON plans (account_id) WHERE state = 'active';

CREATE TRIGGER plans_stale_view_insert AFTER INSERT ON plans BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
CREATE TRIGGER plans_stale_view_update AFTER UPDATE ON plans BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.account_id AND view_json IS NOT NULL;
END;
