-- Privacy (issue 6): the tamper-evident audit log, marketing objections, legal holds, support
-- tickets, data-subject requests and the record of retention runs.
-- Times are UTC microseconds since the Unix epoch.

-- Who did what, when and why, append-only (triggers refuse UPDATE and DELETE) and hash-chained:
-- `hash` is SHA-256 of `prev_hash` and the row's canonical content, so a changed or deleted
-- entry breaks the chain (`apisendsms audit verify`). Ids are 1, 2, 3... without gaps; people are
-- named by id (user:ID, account:ID) or keyed hash (number:HASH), never by number or e-mail.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    details     TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- The head of the chain: one row, updated by every append in the appending transaction, which
-- serialises appends (and lets verification notice a deleted tail).
CREATE TABLE audit_chain (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_id    INTEGER NOT NULL,
    last_hash  TEXT    NOT NULL
);
INSERT INTO audit_chain (id, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Whether a message is commercial, so that the claim can refuse one whose recipient objected
-- or withdrew consent after it was scheduled.
ALTER TABLE messages ADD COLUMN marketing INTEGER NOT NULL DEFAULT 0;

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
    account_id  INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (number, account_id)
);

-- A legal hold keeps data past its retention period while a complaint, a dispute or a debt
-- collection concerning it is open: a message, every message of an account, or of a number.
CREATE TABLE legal_holds (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    scope       TEXT    NOT NULL CHECK (scope IN ('message', 'account', 'number')),
    target_id   INTEGER,
    number      TEXT,
    reason      TEXT    NOT NULL,
    ticket_id   INTEGER,
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    released_at INTEGER
);
CREATE INDEX legal_holds_open ON legal_holds (scope, target_id) WHERE released_at IS NULL;

-- Support tickets and their conversation (clause 12). A complaint puts a legal hold on the data
-- it concerns until it is resolved.
CREATE TABLE tickets (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER REFERENCES accounts (id),
    user_id      INTEGER,
    kind         TEXT    NOT NULL CHECK (kind IN ('question', 'complaint_message', 'complaint_bill', 'data_request')),
    subject      TEXT    NOT NULL,
    message_id   INTEGER,
    status       TEXT    NOT NULL CHECK (status IN ('open', 'resolved')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    resolved_at  INTEGER
);
CREATE INDEX tickets_account ON tickets (account_id, id);
CREATE TABLE ticket_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author      TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);

-- Data-subject requests (Art. 15-21): who, what, how the identity was verified, the deadline
-- (one month, extendable by two with reasons given within the first), and the answer.
CREATE TABLE data_requests (
    id                INTEGER PRIMARY KEY,
    kind              TEXT    NOT NULL CHECK (kind IN ('access', 'portability', 'rectification', 'erasure', 'restriction', 'objection', 'withdrawal')),
    user_id           INTEGER,
    details           TEXT    NOT NULL,
    lang              TEXT    NOT NULL CHECK (lang IN ('cs', 'en')),
    filed_by          TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN ('unverified', 'open', 'done', 'refused')),
    verified_by       TEXT,
    code_hash         TEXT,
    code_expires_at   INTEGER,
    code_attempts     INTEGER NOT NULL DEFAULT 0,
    received_at       INTEGER NOT NULL,
    due_at            INTEGER NOT NULL,
    extension_reason  TEXT,
    closed_at         INTEGER,
    answer            TEXT
);
CREATE INDEX data_requests_open ON data_requests (due_at) WHERE closed_at IS NULL;

-- Each run of the retention job and what it did per category.
CREATE TABLE retention_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    clock        INTEGER NOT NULL,
    dry_run      INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    report       TEXT    NOT NULL DEFAULT ''
);
