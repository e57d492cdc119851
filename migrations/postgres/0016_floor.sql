-- The call-centre floor (crates/domain/src/floor.rs).
--
-- Claims: an account reserved for one agent while the call is prepared and made. At most one live
-- (not ended) claim per account, held by a unique partial index, so two agents can never hold one
-- account, on one replica or several. A claim past its expire_time is expired whether or not
-- end_time is set yet: readers compare with now, and the next claim of the account records it.
CREATE TABLE claims (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      BIGINT  NOT NULL REFERENCES accounts (id),
    agent           TEXT    NOT NULL,
    claim_time      TIMESTAMPTZ NOT NULL,
    expire_time     TIMESTAMPTZ NOT NULL,
    end_time        TIMESTAMPTZ,
    end_reason      TEXT CHECK (end_reason IN ('recorded', 'released', 'expired')),
    call_id         BIGINT REFERENCES calls (id),
    override_reason TEXT,
    override_by     TEXT,
    CHECK ((end_time IS NULL) = (end_reason IS NULL))
);
CREATE UNIQUE INDEX claims_live ON claims (account_id) WHERE end_time IS NULL;
CREATE INDEX claims_agent_live ON claims (agent, expire_time) WHERE end_time IS NULL;

-- Calls: the claim a call was made under, the rules it broke (a JSON array, NULL for none), where
-- it came from (recoup's agents, or the CRM's history with the CRM's id) and the debtor's words
-- when it asked not to be called.
ALTER TABLE calls ADD COLUMN claim_id BIGINT REFERENCES claims (id);
ALTER TABLE calls ADD COLUMN breaches TEXT;
ALTER TABLE calls ADD COLUMN origin TEXT NOT NULL DEFAULT 'live' CHECK (origin IN ('live', 'import'));
ALTER TABLE calls ADD COLUMN crm_id TEXT;
ALTER TABLE calls ADD COLUMN asked_not_to_call TEXT;
CREATE INDEX calls_breached ON calls (id) WHERE breaches IS NOT NULL;
CREATE UNIQUE INDEX calls_crm ON calls (account_id, crm_id) WHERE crm_id IS NOT NULL;

-- Letters the CRM sent before recoup, by the CRM's id.
ALTER TABLE letters ADD COLUMN crm_id TEXT;
CREATE UNIQUE INDEX letters_crm ON letters (account_id, crm_id) WHERE crm_id IS NOT NULL;

-- Accounts: the queue they are worked in; what the CRM last imported as status and cease_calls;
-- the lasting blocks recoup set from a call, which an import never lifts. `status` and
-- `cease_calls` stay what every reader uses: the CRM's values with recoup's blocks laid over them.
ALTER TABLE accounts ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
CREATE INDEX accounts_queue ON accounts (queue);
ALTER TABLE accounts ADD COLUMN crm_status TEXT;
ALTER TABLE accounts ADD COLUMN crm_cease_calls BOOLEAN;
ALTER TABLE accounts ADD COLUMN held_agency BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE accounts ADD COLUMN held_cease BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE accounts SET crm_status = status, crm_cease_calls = cease_calls;
-- A referral recorded on a call before this migration is recoup's block.
UPDATE accounts SET held_agency = TRUE WHERE status = 'with_agency'
    AND EXISTS (SELECT 1 FROM calls c WHERE c.account_id = accounts.id
                AND c.outcome = 'referred_to_agency');

-- The account's own fields, the queue and recoup's blocks now among them.
CREATE OR REPLACE FUNCTION stale_view_of_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.view_json IS NOT DISTINCT FROM OLD.view_json
       AND (NEW.external_ref, NEW.legal_name, NEW.debtor_type, NEW.country_code, NEW.time_zone,
            NEW.currency_code, NEW.status, NEW.cease_calls, NEW.credit_minor, NEW.create_time,
            NEW.update_time, NEW.interest_waived, NEW.manual_category, NEW.category_reason,
            NEW.category_set_by, NEW.category_set_time, NEW.queue, NEW.held_agency,
            NEW.held_cease)
           IS DISTINCT FROM
           (OLD.external_ref, OLD.legal_name, OLD.debtor_type, OLD.country_code, OLD.time_zone,
            OLD.currency_code, OLD.status, OLD.cease_calls, OLD.credit_minor, OLD.create_time,
            OLD.update_time, OLD.interest_waived, OLD.manual_category, OLD.category_reason,
            OLD.category_set_by, OLD.category_set_time, OLD.queue, OLD.held_agency,
            OLD.held_cease)
    THEN
        NEW.view_json := NULL;
    END IF;
    RETURN NEW;
END $$;

-- Lifts of recoup's blocks (LiftContactBlock): who lifted which, when and why. Append-only.
CREATE TABLE block_lifts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    block      TEXT NOT NULL CHECK (block IN ('with_agency', 'cease_calls')),
    reason     TEXT NOT NULL,
    lifted_by  TEXT NOT NULL,
    lift_time  TIMESTAMPTZ NOT NULL
);
CREATE INDEX block_lifts_account ON block_lifts (account_id, id);

-- The worklist by queue: entries carry their account's queue, kept by the account's triggers.
ALTER TABLE worklist ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
CREATE INDEX worklist_queue_rank ON worklist (queue, score DESC, account_id DESC)
    WHERE NOT stale AND score IS NOT NULL;
CREATE OR REPLACE FUNCTION worklist_new_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO worklist (account_id, queue) SELECT id, queue FROM changed;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION worklist_stale_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE worklist w SET stale = TRUE, version = w.version + 1, queue = c.queue
    FROM changed c WHERE w.account_id = c.id;
    RETURN NULL;
END $$;

-- API keys limited to queues: a JSON array of queue names; NULL means every queue.
ALTER TABLE api_keys ADD COLUMN queues TEXT;

-- Documents gain the queue and recoup's blocks: stored ones are rebuilt.
UPDATE accounts SET view_json = NULL WHERE view_json IS NOT NULL;
