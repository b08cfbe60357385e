-- Privacy, second part (issue 6): the operator's marketing e-mails, the SMS path of identity
-- verification, restriction of processing, and the end of a customer's contract.
-- Times are UTC microseconds since the Unix epoch.

-- A marketing e-mail (or newsletter) sent by the operator: one outbox e-mail per subject with a
-- live consent to the purpose at the moment of sending, each with its signed withdrawal link.
CREATE TABLE marketing_campaigns (
    id          INTEGER PRIMARY KEY,
    purpose     TEXT    NOT NULL CHECK (purpose IN ('marketing_email', 'newsletter')),
    subject     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    sent        INTEGER NOT NULL,
    skipped     INTEGER NOT NULL
);

-- The SMS that carried a request's one-time code: its text is redacted once the code is used
-- or replaced, so the code is never kept in clear.
ALTER TABLE data_requests ADD COLUMN code_message_id INTEGER;

-- Restriction of processing (Art. 18) of a customer's data, granted on their request: while it
-- stands (lifted_at NULL) only storage and the DPO touch the data. Lifting is a recorded step.
CREATE TABLE processing_restrictions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES web_users (id),
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    request_id   INTEGER,
    reason       TEXT    NOT NULL,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    lifted_at    INTEGER,
    lifted_by    TEXT,
    lift_reason  TEXT
);
CREATE INDEX processing_restrictions_live ON processing_restrictions (account_id) WHERE lifted_at IS NULL;

-- The end of the customer's contract (the account closed by the customer or by staff; NULL
-- while it runs, cleared by a reopening): the start event of the customer record's 10 years
-- and of marketing to the former customer's 1 year. The retention job records what it did.
ALTER TABLE accounts ADD COLUMN contract_ended_at INTEGER;
ALTER TABLE accounts ADD COLUMN marketing_ended_at INTEGER;
ALTER TABLE accounts ADD COLUMN record_erased_at INTEGER;
