-- Accounts, API keys, the credit ledger, messages and their history.
-- Times are UTC microseconds since the Unix epoch; money is integer hundredths of CZK.

CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    email           TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    balance_cents   INTEGER NOT NULL DEFAULT 0,
    reserved_cents  INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    CHECK (balance_cents >= 0 AND reserved_cents >= 0)
);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    key_hash    TEXT    NOT NULL UNIQUE,
    prefix      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- Append-only: balance_cents = SUM(available_delta), reserved_cents = SUM(reserved_delta).
CREATE TABLE ledger_entries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       INTEGER NOT NULL REFERENCES accounts (id),
    kind             TEXT    NOT NULL CHECK (kind IN ('topup', 'reserve', 'charge', 'release', 'adjustment')),
    available_delta  INTEGER NOT NULL,
    reserved_delta   INTEGER NOT NULL,
    reference        TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;

CREATE TABLE messages (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    submission_id  INTEGER NOT NULL,
    to_number      TEXT    NOT NULL,
    sender         TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    encoding       TEXT    NOT NULL,
    parts          INTEGER NOT NULL,
    price_cents    INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    status_reason  TEXT,
    client_ref     TEXT,
    scheduled_at   INTEGER,
    due_at         INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    connector      TEXT,
    smsc_id        TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    claimed_by     INTEGER,
    claimed_until  INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX messages_due ON messages (due_at) WHERE status IN ('queued', 'scheduled');
CREATE INDEX messages_sending ON messages (claimed_until) WHERE status = 'sending';
CREATE INDEX messages_account ON messages (account_id, id);
CREATE INDEX messages_smsc ON messages (connector, smsc_id) WHERE smsc_id IS NOT NULL;

CREATE TABLE message_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    reason      TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX message_events_message ON message_events (message_id, id);

CREATE TABLE idempotency_keys (
    account_id    INTEGER NOT NULL,
    key           TEXT    NOT NULL,
    request_hash  TEXT    NOT NULL,
    response      TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
);

-- Receipts that arrived before the submit response was recorded.
CREATE TABLE pending_receipts (
    connector   TEXT    NOT NULL,
    smsc_id     TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    reason      TEXT,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (connector, smsc_id)
);
