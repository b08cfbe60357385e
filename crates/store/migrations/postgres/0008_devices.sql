-- Customers' own phones and GSM modems as a delivery channel.

-- A device of an account. The pairing code and the device credential are kept only as SHA-256
-- hashes; the code is single-use and short-lived, the credential lives until revoked.
CREATE TABLE devices (
    id                  BIGINT PRIMARY KEY,
    account_id          BIGINT  NOT NULL REFERENCES accounts (id),
    name                TEXT    NOT NULL,
    pairing_code_hash   TEXT UNIQUE,
    pairing_expires_at  BIGINT,
    credential_hash     TEXT UNIQUE,
    per_minute          BIGINT  NOT NULL,
    per_day             BIGINT  NOT NULL,
    model               TEXT,
    sim_slots           BIGINT,
    signal              BIGINT,
    battery             BIGINT,
    last_seen_at        BIGINT,
    created_at          BIGINT  NOT NULL,
    paired_at           BIGINT,
    revoked_at          BIGINT
);
CREATE INDEX devices_account ON devices (account_id, id);

-- Which device a message went to and how far it got there. Written before the device is told,
-- so a reconnect resumes from here: nothing is lost and nothing is given to a second device
-- once the first acknowledged it.
CREATE TABLE device_assignments (
    message_id   BIGINT PRIMARY KEY,
    device_id    BIGINT  NOT NULL REFERENCES devices (id),
    account_id   BIGINT  NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('assigned', 'acked', 'sent', 'delivered', 'failed')),
    refs         TEXT,
    error        TEXT,
    assigned_at  BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX device_assignments_device ON device_assignments (device_id, assigned_at);

-- An account's choice of channel and what to do while its devices are offline.
CREATE TABLE device_settings (
    account_id        BIGINT PRIMARY KEY REFERENCES accounts (id),
    route             TEXT    NOT NULL CHECK (route IN ('carrier', 'device')),
    offline_wait_s    BIGINT  NOT NULL,
    offline_fallback  TEXT    NOT NULL CHECK (offline_fallback IN ('fail', 'carrier'))
);

-- The channel a message asked for: 'device', or NULL for the carrier route table. Set at
-- acceptance from the request or the account's setting.
ALTER TABLE messages ADD COLUMN route TEXT;
-- Text encrypted end to end for the customer's device; the server only relays it.
ALTER TABLE messages ADD COLUMN ciphertext TEXT;

-- A device repeats an inbound message until the server confirms it: found again by its id.
CREATE INDEX inbound_messages_smsc ON inbound_messages (connector, smsc_id) WHERE smsc_id IS NOT NULL;
