-- SMPP credentials of customers, receipts owed to their binds, and inbound messages pushed to them.

CREATE TABLE smpp_credentials (
    id             BIGINT PRIMARY KEY,
    account_id     BIGINT NOT NULL REFERENCES accounts (id),
    system_id      TEXT    NOT NULL UNIQUE,
    -- argon2id in PHC form; the password itself is never stored.
    password_hash  TEXT    NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE INDEX smpp_credentials_account ON smpp_credentials (account_id, id);

-- One row per message submitted over SMPP with registered_delivery set; written in the same
-- transaction as the message. mode 1: every final outcome; mode 2: failures only.
CREATE TABLE smpp_receipts (
    message_id     BIGINT PRIMARY KEY,
    credential_id  BIGINT NOT NULL REFERENCES smpp_credentials (id),
    mode           BIGINT NOT NULL CHECK (mode IN (1, 2)),
    source_addr    TEXT    NOT NULL,
    dest_addr      TEXT    NOT NULL,
    submitted_at   BIGINT NOT NULL,
    sent_at        BIGINT
);
CREATE INDEX smpp_receipts_pending ON smpp_receipts (credential_id, message_id) WHERE sent_at IS NULL;

-- Inbound messages already delivered to a customer's SMPP bind.
CREATE TABLE smpp_mo_pushed (
    inbound_id     BIGINT PRIMARY KEY,
    credential_id  BIGINT NOT NULL,
    pushed_at      BIGINT NOT NULL
);
