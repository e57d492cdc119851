-- A plan brought in from the creditor's CRM (ImportHistory) keeps the CRM's id, so a second import
-- of it writes nothing.
ALTER TABLE plans ADD COLUMN crm_id TEXT;
CREATE UNIQUE INDEX plans_crm ON plans (account_id, crm_id) WHERE crm_id IS NOT NULL;
