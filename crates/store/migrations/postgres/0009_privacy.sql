-- Privacy (issue 6): the tamper-evident audit log, marketing objections, legal holds, support
-- tickets, data-subject requests and the record of retention runs.
-- Times are UTC microseconds since the Unix epoch; integers are BIGINT.

-- Who did what, when and why, append-only (triggers refuse UPDATE and DELETE) and hash-chained:
-- `hash` is SHA-256 of `prev_hash` and the row's canonical content, so a changed or deleted
-- entry breaks the chain (`apisendsms audit verify`). Ids are 1, 2, 3... without gaps; people are
-- named by id (user:ID, account:ID) or keyed hash (number:HASH), never by number or e-mail.
CREATE TABLE audit_log (
    id          BIGINT  PRIMARY KEY,
    at          BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    details     TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The head of the chain: one row, locked and updated by every append in the appending
-- transaction, which serialises appends across nodes (and lets verification notice a deleted tail).
CREATE TABLE audit_chain (
    id         BIGINT  PRIMARY KEY CHECK (id = 1),
    last_id    BIGINT  NOT NULL,
    last_hash  TEXT    NOT NULL
);
INSERT INTO audit_chain (id, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Whether a message is commercial, so that the claim can refuse one whose recipient objected
-- or withdrew consent after it was scheduled.
ALTER TABLE messages ADD COLUMN marketing BIGINT NOT NULL DEFAULT 0;

-- The age declaration of a consent that needs one (newsletter 16+, service 18+): the declared
-- date of birth and the wording of the declaration.
ALTER TABLE consents ADD COLUMN birth_date TEXT;
ALTER TABLE consents ADD COLUMN age_text_version TEXT;

-- A recipient's objection to commercial messages (Art. 21(3)) or withdrawal of consent to them:
-- from one sender (account_id) or from everyone (0). No commercial message is sent to the
-- number while it stands. The number is scrubbed by an erasure, whose Blacklist entry then
-- blocks everything.
CREATE TABLE marketing_objections (
    number      TEXT    NOT NULL,
    account_id  BIGINT  NOT NULL,
    source      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (number, account_id)
);

-- A legal hold keeps data past its retention period while a complaint, a dispute or a debt
-- collection concerning it is open: a message, every message of an account, or of a number.
CREATE TABLE legal_holds (
    id          BIGSERIAL PRIMARY KEY,
    scope       TEXT    NOT NULL CHECK (scope IN ('message', 'account', 'number')),
    target_id   BIGINT,
    number      TEXT,
    reason      TEXT    NOT NULL,
    ticket_id   BIGINT,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    released_at BIGINT
);
CREATE INDEX legal_holds_open ON legal_holds (scope, target_id) WHERE released_at IS NULL;

-- Support tickets and their conversation (clause 12). A complaint puts a legal hold on the data
-- it concerns until it is resolved.
CREATE TABLE tickets (
    id           BIGINT  PRIMARY KEY,
    account_id   BIGINT  REFERENCES accounts (id),
    user_id      BIGINT,
    kind         TEXT    NOT NULL CHECK (kind IN ('question', 'complaint_message', 'complaint_bill', 'data_request')),
    subject      TEXT    NOT NULL,
    message_id   BIGINT,
    status       TEXT    NOT NULL CHECK (status IN ('open', 'resolved')),
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    resolved_at  BIGINT
);
CREATE INDEX tickets_account ON tickets (account_id, id);
CREATE TABLE ticket_messages (
    id          BIGSERIAL PRIMARY KEY,
    ticket_id   BIGINT  NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author      TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    at          BIGINT  NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);

-- Data-subject requests (Art. 15-21): who, what, how the identity was verified, the deadline
-- (one month, extendable by two with reasons given within the first), and the answer.
CREATE TABLE data_requests (
    id                BIGINT  PRIMARY KEY,
    kind              TEXT    NOT NULL CHECK (kind IN ('access', 'portability', 'rectification', 'erasure', 'restriction', 'objection', 'withdrawal')),
    user_id           BIGINT,
    details           TEXT    NOT NULL,
    lang              TEXT    NOT NULL CHECK (lang IN ('cs', 'en')),
    filed_by          TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN ('unverified', 'open', 'done', 'refused')),
    verified_by       TEXT,
    code_hash         TEXT,
    code_expires_at   BIGINT,
    code_attempts     BIGINT  NOT NULL DEFAULT 0,
    received_at       BIGINT  NOT NULL,
    due_at            BIGINT  NOT NULL,
    extension_reason  TEXT,
    closed_at         BIGINT,
    answer            TEXT
);
CREATE INDEX data_requests_open ON data_requests (due_at) WHERE closed_at IS NULL;

-- Each run of the retention job and what it did per category.
CREATE TABLE retention_runs (
    id           BIGSERIAL PRIMARY KEY,
    clock        BIGINT  NOT NULL,
    dry_run      BIGINT  NOT NULL,
    started_at   BIGINT  NOT NULL,
    finished_at  BIGINT,
    report       TEXT    NOT NULL DEFAULT ''
);
