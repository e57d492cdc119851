-- The call-centre floor (crates/domain/src/floor.rs).
--
-- Claims: an account reserved for one agent while the call is prepared and made. At most one live
-- (not ended) claim per account, held by a unique partial index, so two agents can never hold one
-- account, on one process or several. A claim past its expire_time is expired whether or not
-- end_time is set yet: readers compare with now, and the next claim of the account records it.
CREATE TABLE claims (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    agent           TEXT    NOT NULL,
    claim_time      TEXT    NOT NULL,
    expire_time     TEXT    NOT NULL,
    end_time        TEXT,
    end_reason      TEXT CHECK (end_reason IN ('recorded', 'released', 'expired')),
    call_id         INTEGER REFERENCES calls (id),
    override_reason TEXT,
    override_by     TEXT,
    CHECK ((end_time IS NULL) = (end_reason IS NULL))
);
CREATE UNIQUE INDEX claims_live ON claims (account_id) WHERE end_time IS NULL;
CREATE INDEX claims_agent_live ON claims (agent, expire_time) WHERE end_time IS NULL;

-- Calls: the claim a call was made under, the rules it broke (a JSON array, NULL for none), where
-- it came from (recoup's agents, or the CRM's history with the CRM's id) and the debtor's words
-- when it asked not to be called.
ALTER TABLE calls ADD COLUMN claim_id INTEGER REFERENCES claims (id);
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
ALTER TABLE accounts ADD COLUMN crm_cease_calls INTEGER;
ALTER TABLE accounts ADD COLUMN held_agency INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN held_cease INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET crm_status = status, crm_cease_calls = cease_calls;
-- A referral recorded on a call before this migration is recoup's block.
UPDATE accounts SET held_agency = 1 WHERE status = 'with_agency'
    AND EXISTS (SELECT 1 FROM calls c WHERE c.account_id = accounts.id
                AND c.outcome = 'referred_to_agency');
CREATE TRIGGER accounts_stale_view_floor AFTER UPDATE OF queue, held_agency, held_cease ON accounts
BEGIN
    UPDATE accounts SET view_json = NULL WHERE id = NEW.id AND view_json IS NOT NULL;
END;

-- Lifts of recoup's blocks (LiftContactBlock): who lifted which, when and why. Append-only.
CREATE TABLE block_lifts (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    block      TEXT NOT NULL CHECK (block IN ('with_agency', 'cease_calls')),
    reason     TEXT NOT NULL,
    lifted_by  TEXT NOT NULL,
    lift_time  TEXT NOT NULL
);
CREATE INDEX block_lifts_account ON block_lifts (account_id, id);

-- The worklist by queue: entries carry their account's queue, kept by the account's triggers.
ALTER TABLE worklist ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
UPDATE worklist SET queue = (SELECT queue FROM accounts WHERE id = worklist.account_id);
CREATE INDEX worklist_queue_rank ON worklist (queue, score DESC, account_id DESC)
    WHERE NOT stale AND score IS NOT NULL;
DROP TRIGGER worklist_new_account;
CREATE TRIGGER worklist_new_account AFTER INSERT ON accounts BEGIN
    INSERT INTO worklist (account_id, queue) VALUES (NEW.id, NEW.queue);
END;
CREATE TRIGGER worklist_queue AFTER UPDATE OF queue ON accounts BEGIN
    UPDATE worklist SET queue = NEW.queue WHERE account_id = NEW.id;
END;

-- API keys limited to queues: a JSON array of queue names; NULL means every queue.
ALTER TABLE api_keys ADD COLUMN queues TEXT;

-- Documents gain the queue and recoup's blocks: stored ones are rebuilt.
UPDATE accounts SET view_json = NULL WHERE view_json IS NOT NULL;
