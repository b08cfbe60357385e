-- Webhooks: customer endpoints, the deliveries owed to them and every HTTP attempt, plus the
-- persisted cursors of the event feed they are fed from (see src/feed.rs).

-- events: a comma-separated subset of 'message.status', 'inbound'. secret: the signing secret
-- encrypted with the service's secrets key (ChaCha20-Poly1305, hex of nonce || ciphertext).
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    url         TEXT    NOT NULL,
    events      TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER
);
CREATE INDEX webhooks_account ON webhooks (account_id, id);

-- One row per (webhook, event). event_key names the feed row ('message_event:ID',
-- 'inbound:ID'); its uniqueness makes the fan-out idempotent.
CREATE TABLE webhook_deliveries (
    id                INTEGER PRIMARY KEY,
    webhook_id        INTEGER NOT NULL REFERENCES webhooks (id),
    account_id        INTEGER NOT NULL,
    event_type        TEXT    NOT NULL,
    event_key         TEXT    NOT NULL,
    payload           TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,
    last_status_code  INTEGER,
    last_error        TEXT,
    created_at        INTEGER NOT NULL,
    delivered_at      INTEGER,
    UNIQUE (webhook_id, event_key)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);

-- One row per HTTP attempt. status_code NULL when no answer came (error says why).
CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  INTEGER NOT NULL REFERENCES webhook_deliveries (id),
    at           INTEGER NOT NULL,
    duration_us  INTEGER NOT NULL,
    status_code  INTEGER,
    error        TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- inbound_messages ids are time-ordered snowflakes made by many nodes: not a commit order. This
-- table gives each stored inbound message a sequence number the feed reads like message_events.
CREATE TABLE inbound_feed (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    inbound_id  INTEGER NOT NULL
);
CREATE TRIGGER inbound_messages_feed AFTER INSERT ON inbound_messages
BEGIN INSERT INTO inbound_feed (inbound_id) VALUES (NEW.id); END;

-- How far each consumer of the feed has read (the last id it took).
CREATE TABLE feed_cursors (
    consumer    TEXT    PRIMARY KEY,
    position    INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
