-- Accounts, API keys, the credit ledger, messages and their history.
-- Times are UTC microseconds since the Unix epoch; money is integer hundredths of CZK.
-- Every integer is BIGINT so that both backends decode to i64.

CREATE TABLE accounts (
    id              BIGINT PRIMARY KEY,
    email           TEXT   NOT NULL UNIQUE,
    name            TEXT   NOT NULL,
    balance_cents   BIGINT NOT NULL DEFAULT 0,
    reserved_cents  BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    CHECK (balance_cents >= 0 AND reserved_cents >= 0)
);

CREATE TABLE api_keys (
    id          BIGINT PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    key_hash    TEXT   NOT NULL UNIQUE,
    prefix      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- Append-only: balance_cents = SUM(available_delta), reserved_cents = SUM(reserved_delta).
CREATE TABLE ledger_entries (
    id               BIGSERIAL PRIMARY KEY,
    account_id       BIGINT NOT NULL REFERENCES accounts (id),
    kind             TEXT   NOT NULL CHECK (kind IN ('topup', 'reserve', 'charge', 'release', 'adjustment')),
    available_delta  BIGINT NOT NULL,
    reserved_delta   BIGINT NOT NULL,
    reference        TEXT   NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only';
END;
$$;
CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

CREATE TABLE messages (
    id             BIGINT PRIMARY KEY,
    account_id     BIGINT NOT NULL REFERENCES accounts (id),
    submission_id  BIGINT NOT NULL,
    to_number      TEXT   NOT NULL,
    sender         TEXT   NOT NULL,
    body           TEXT   NOT NULL,
    encoding       TEXT   NOT NULL,
    parts          BIGINT NOT NULL,
    price_cents    BIGINT NOT NULL,
    status         TEXT   NOT NULL,
    status_reason  TEXT,
    client_ref     TEXT,
    scheduled_at   BIGINT,
    due_at         BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    connector      TEXT,
    smsc_id        TEXT,
    attempts       BIGINT NOT NULL DEFAULT 0,
    claimed_by     BIGINT,
    claimed_until  BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX messages_due ON messages (due_at) WHERE status IN ('queued', 'scheduled');
CREATE INDEX messages_sending ON messages (claimed_until) WHERE status = 'sending';
CREATE INDEX messages_account ON messages (account_id, id);
CREATE INDEX messages_smsc ON messages (connector, smsc_id) WHERE smsc_id IS NOT NULL;

CREATE TABLE message_events (
    id          BIGSERIAL PRIMARY KEY,
    message_id  BIGINT NOT NULL,
    status      TEXT   NOT NULL,
    reason      TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX message_events_message ON message_events (message_id, id);

CREATE TABLE idempotency_keys (
    account_id    BIGINT NOT NULL,
    key           TEXT   NOT NULL,
    request_hash  TEXT   NOT NULL,
    response      TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, key)
);

-- Receipts that arrived before the submit response was recorded.
CREATE TABLE pending_receipts (
    connector   TEXT   NOT NULL,
    smsc_id     TEXT   NOT NULL,
    status      TEXT   NOT NULL,
    reason      TEXT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (connector, smsc_id)
);
