-- Billing: price lists, payment requests, imported bank transactions and their pairing,
-- invoices. Times are UTC microseconds; money is integer hundredths of CZK; dates of the
-- Czech calendar (Europe/Prague) are text 'YYYY-MM-DD'.

-- Named counters incremented inside the transaction that uses the number, so a rolled back
-- transaction leaves no gap (invoice series, variable symbols).
CREATE TABLE billing_counters (
    name   TEXT    PRIMARY KEY,
    value  INTEGER NOT NULL
);

-- A price list version: the public one (account_id NULL) or an account's own prices, valid
-- from valid_from until valid_until (exclusive; NULL = open). At a given time the valid list
-- with the latest valid_from is in force.
CREATE TABLE price_lists (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER REFERENCES accounts (id),
    name         TEXT    NOT NULL,
    valid_from   INTEGER NOT NULL,
    valid_until  INTEGER,
    created_at   INTEGER NOT NULL,
    CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX price_lists_account ON price_lists (account_id, valid_from);

-- Price per segment by destination prefix (E.164 digits without '+'; '' = any destination).
CREATE TABLE price_list_entries (
    price_list_id      INTEGER NOT NULL REFERENCES price_lists (id),
    prefix             TEXT    NOT NULL,
    per_segment_cents  INTEGER NOT NULL CHECK (per_segment_cents >= 0),
    PRIMARY KEY (price_list_id, prefix)
);

-- Billing details of an account: its variable symbol (unique, never changes), the customer's
-- invoice details and the low-credit threshold.
CREATE TABLE billing_accounts (
    account_id                INTEGER PRIMARY KEY REFERENCES accounts (id),
    variable_symbol           TEXT    NOT NULL UNIQUE,
    customer_name             TEXT,
    customer_address          TEXT,
    customer_ico              TEXT,
    customer_dic              TEXT,
    low_credit_cents          INTEGER CHECK (low_credit_cents IS NULL OR low_credit_cents >= 0),
    low_credit_notified_at    INTEGER,
    created_at                INTEGER NOT NULL
);

-- Payment requests (výzvy k platbě) as shown to the customer.
CREATE TABLE top_ups (
    id               INTEGER PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES accounts (id),
    amount_cents     INTEGER NOT NULL CHECK (amount_cents > 0),
    variable_symbol  TEXT    NOT NULL,
    iban             TEXT    NOT NULL,
    due_date         TEXT    NOT NULL,
    spayd            TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX top_ups_account ON top_ups (account_id, id);

-- One imported statement file.
CREATE TABLE bank_imports (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    format        TEXT    NOT NULL,
    bank_account  TEXT    NOT NULL,
    statement_id  TEXT,
    file_sha256   TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    transactions  INTEGER NOT NULL,
    new_transactions INTEGER NOT NULL,
    imported_at   INTEGER NOT NULL
);

-- Every booked movement seen on a statement, once: (bank_account, bank_ref) is the key that
-- makes a repeated or overlapping statement credit nothing twice.
-- state: 'paired' (credited to account_id), 'unpaired' (waits for staff), 'reversed' (a
-- reversal that took credit back), 'ignored' (a debit or other movement that is no payment),
-- 'rejected' (staff decided it belongs to no account, e.g. to be refunded).
CREATE TABLE bank_transactions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    import_id        INTEGER NOT NULL REFERENCES bank_imports (id),
    bank_account     TEXT    NOT NULL,
    bank_ref         TEXT    NOT NULL,
    direction        TEXT    NOT NULL CHECK (direction IN ('credit', 'debit')),
    reversal         INTEGER NOT NULL,
    amount_cents     INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency         TEXT    NOT NULL,
    booking_date     TEXT    NOT NULL,
    variable_symbol  TEXT,
    counter_account  TEXT,
    counter_name     TEXT,
    message          TEXT,
    state            TEXT    NOT NULL CHECK (state IN ('paired', 'unpaired', 'reversed', 'ignored', 'rejected')),
    account_id       INTEGER REFERENCES accounts (id),
    -- For a reversal: the part of the amount the account's credit could not cover.
    shortfall_cents  INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (bank_account, bank_ref)
);
CREATE INDEX bank_transactions_state ON bank_transactions (state, id);

-- Staff decisions on unpaired payments, append-only.
CREATE TABLE payment_pairing_log (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    bank_transaction_id  INTEGER NOT NULL REFERENCES bank_transactions (id),
    decision             TEXT    NOT NULL CHECK (decision IN ('paired', 'rejected')),
    account_id           INTEGER REFERENCES accounts (id),
    decided_by           TEXT    NOT NULL,
    note                 TEXT    NOT NULL,
    decided_at           INTEGER NOT NULL
);
CREATE TRIGGER payment_pairing_log_no_update BEFORE UPDATE ON payment_pairing_log
BEGIN SELECT RAISE(ABORT, 'payment_pairing_log is append-only'); END;
CREATE TRIGGER payment_pairing_log_no_delete BEFORE DELETE ON payment_pairing_log
BEGIN SELECT RAISE(ABORT, 'payment_pairing_log is append-only'); END;

-- Tax documents (daňové doklady) and credit notes. Issued once, never changed: a correction
-- is a credit note referring to the invoice it corrects. The supplier's and the customer's
-- details are copied at issue.
CREATE TABLE invoices (
    id                   INTEGER PRIMARY KEY,
    number               TEXT    NOT NULL UNIQUE,
    series               TEXT    NOT NULL,
    seq                  INTEGER NOT NULL,
    kind                 TEXT    NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    corrects_id          INTEGER REFERENCES invoices (id),
    account_id           INTEGER NOT NULL REFERENCES accounts (id),
    bank_transaction_id  INTEGER REFERENCES bank_transactions (id),
    issue_date           TEXT    NOT NULL,
    taxable_date         TEXT    NOT NULL,
    payment_date         TEXT,
    supplier_name        TEXT    NOT NULL,
    supplier_address     TEXT    NOT NULL,
    supplier_ico         TEXT    NOT NULL,
    supplier_dic         TEXT,
    supplier_register    TEXT    NOT NULL,
    supplier_iban        TEXT    NOT NULL,
    customer_name        TEXT    NOT NULL,
    customer_address     TEXT,
    customer_ico         TEXT,
    customer_dic         TEXT,
    description          TEXT    NOT NULL,
    quantity             INTEGER NOT NULL,
    unit_price_cents     INTEGER NOT NULL,
    discount_cents       INTEGER NOT NULL,
    base_cents           INTEGER NOT NULL,
    vat_rate_bp          INTEGER NOT NULL,
    vat_cents            INTEGER NOT NULL,
    total_cents          INTEGER NOT NULL,
    currency             TEXT    NOT NULL,
    variable_symbol      TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    UNIQUE (series, seq),
    CHECK (base_cents + vat_cents = total_cents)
);
CREATE INDEX invoices_account ON invoices (account_id, id);
CREATE UNIQUE INDEX invoices_payment ON invoices (bank_transaction_id) WHERE kind = 'invoice';
CREATE TRIGGER invoices_no_update BEFORE UPDATE ON invoices
BEGIN SELECT RAISE(ABORT, 'an issued invoice never changes; issue a credit note'); END;
CREATE TRIGGER invoices_no_delete BEFORE DELETE ON invoices
BEGIN SELECT RAISE(ABORT, 'an issued invoice never changes; issue a credit note'); END;
