-- Recipients' protection: contact lists and their imports, the Blacklist (opt-outs, restriction,
-- erasure) and each account's texts for commercial messages.

-- The account's identification for commercial messages (e.g. "ACME s.r.o., IČO 12345678"),
-- its default opt-out line, and whether it is the operator's staff (erasure, restriction).
ALTER TABLE accounts ADD COLUMN identification TEXT;
ALTER TABLE accounts ADD COLUMN optout_line TEXT;
ALTER TABLE accounts ADD COLUMN staff INTEGER NOT NULL DEFAULT 0;

CREATE TABLE contact_lists (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX contact_lists_account ON contact_lists (account_id, id);

-- One recipient in a list: E.164 number, name, custom fields (a JSON object) and the basis for
-- commercial messages declared when the contact was imported ('consent', 'customer' or none).
CREATE TABLE contacts (
    list_id     INTEGER NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    account_id  INTEGER NOT NULL,
    number      TEXT    NOT NULL,
    name        TEXT,
    fields      TEXT,
    basis       TEXT CHECK (basis IN ('consent', 'customer')),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (list_id, number)
);
CREATE INDEX contacts_account_number ON contacts (account_id, number);
CREATE INDEX contacts_number ON contacts (number);

CREATE TABLE contact_imports (
    id           INTEGER PRIMARY KEY,
    list_id      INTEGER NOT NULL REFERENCES contact_lists (id) ON DELETE CASCADE,
    account_id   INTEGER NOT NULL,
    basis        TEXT CHECK (basis IN ('consent', 'customer')),
    status       TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    rows_read    INTEGER NOT NULL DEFAULT 0,
    imported     INTEGER NOT NULL DEFAULT 0,
    duplicates   INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    blocked      INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Every row an import refused, with the reason. `value` is the number as written; it is not kept
-- for a number whose Blacklist entry was erased.
CREATE TABLE contact_import_rejects (
    import_id   INTEGER NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,
    row_number  INTEGER NOT NULL,
    value       TEXT,
    reason      TEXT    NOT NULL,
    PRIMARY KEY (import_id, row_number)
);

-- The Blacklist. account_id 0 is the global scope. number_hash is HMAC-SHA256 of the E.164
-- number under a key from the configuration (never in the database): the lookup key. `number` is
-- the number in clear while the entry is not erased, so customers can read their list.
CREATE TABLE blacklist (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL,
    number_hash  TEXT    NOT NULL,
    number       TEXT,
    kind         TEXT    NOT NULL CHECK (kind IN ('opt_out', 'restricted', 'erased')),
    source       TEXT    NOT NULL CHECK (source IN ('recipient', 'api', 'web', 'staff')),
    created_at   INTEGER NOT NULL,
    UNIQUE (number_hash, account_id, kind)
);
CREATE INDEX blacklist_account ON blacklist (account_id, id);
