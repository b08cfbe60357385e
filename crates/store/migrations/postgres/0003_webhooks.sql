-- Webhooks: customer endpoints, the deliveries owed to them and every HTTP attempt, plus the
-- persisted cursors of the event feed they are fed from (see src/feed.rs).

-- events: a comma-separated subset of 'message.status', 'inbound'. secret: the signing secret
-- encrypted with the service's secrets key (ChaCha20-Poly1305, hex of nonce || ciphertext).
CREATE TABLE webhooks (
    id          BIGINT PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    url         TEXT   NOT NULL,
    events      TEXT   NOT NULL,
    secret      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);
CREATE INDEX webhooks_account ON webhooks (account_id, id);

-- One row per (webhook, event). event_key names the feed row ('message_event:ID',
-- 'inbound:ID'); its uniqueness makes the fan-out idempotent.
CREATE TABLE webhook_deliveries (
    id                BIGINT PRIMARY KEY,
    webhook_id        BIGINT NOT NULL REFERENCES webhooks (id),
    account_id        BIGINT NOT NULL,
    event_type        TEXT   NOT NULL,
    event_key         TEXT   NOT NULL,
    payload           TEXT   NOT NULL,
    status            TEXT   NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    last_status_code  BIGINT,
    last_error        TEXT,
    created_at        BIGINT NOT NULL,
    delivered_at      BIGINT,
    UNIQUE (webhook_id, event_key)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);

-- One row per HTTP attempt. status_code NULL when no answer came (error says why).
CREATE TABLE webhook_attempts (
    id           BIGSERIAL PRIMARY KEY,
    delivery_id  BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    at           BIGINT NOT NULL,
    duration_us  BIGINT NOT NULL,
    status_code  BIGINT,
    error        TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- inbound_messages ids are time-ordered snowflakes made by many nodes: not a commit order. This
-- table gives each stored inbound message a sequence number the feed reads like message_events.
CREATE TABLE inbound_feed (
    id          BIGSERIAL PRIMARY KEY,
    inbound_id  BIGINT NOT NULL
);
CREATE FUNCTION inbound_messages_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inbound_feed (inbound_id) VALUES (NEW.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER inbound_messages_feed AFTER INSERT ON inbound_messages
    FOR EACH ROW EXECUTE FUNCTION inbound_messages_feed();

-- How far each consumer of the feed has read (the last id it took).
CREATE TABLE feed_cursors (
    consumer    TEXT   PRIMARY KEY,
    position    BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
