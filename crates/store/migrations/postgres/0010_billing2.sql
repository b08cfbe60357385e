-- Billing, second part: postpaid accounts with a credit limit, monthly invoicing (one invoice
-- per account for a month's paid top-ups, or for a postpaid account the month's usage), due
-- dates and reminders of usage invoices.
--
-- A postpaid account's credit limit is a credit line in the ledger: granting or changing it is
-- an 'adjustment' entry of the difference, so accounts.balance_cents (never negative) still is
-- the sum of the ledger and acceptance refuses once the line is used up. The customer's own
-- balance is balance_cents - credit_limit_cents, which may go down to -credit_limit_cents.
ALTER TABLE billing_accounts ADD COLUMN postpaid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE billing_accounts ADD COLUMN credit_limit_cents BIGINT NOT NULL DEFAULT 0
    CHECK (credit_limit_cents >= 0);
ALTER TABLE billing_accounts ADD COLUMN postpaid_since BIGINT;

-- A postpaid account's usage invoice for one month (Europe/Prague calendar month), with its
-- due date and the reminders sent. The invoice itself never changes; this row does.
CREATE TABLE usage_invoices (
    invoice_id    BIGINT PRIMARY KEY REFERENCES invoices (id),
    account_id    BIGINT NOT NULL REFERENCES accounts (id),
    period        TEXT    NOT NULL,
    period_start  BIGINT NOT NULL,
    period_end    BIGINT NOT NULL,
    due_date      TEXT    NOT NULL,
    reminders     BIGINT NOT NULL DEFAULT 0,
    reminded_at   BIGINT,
    UNIQUE (account_id, period)
);

-- Paired payments covered by a monthly invoice (invoice_id), or reversed before they were
-- invoiced (invoice_id NULL): either way the monthly run does not invoice them (again).
CREATE TABLE invoiced_payments (
    bank_transaction_id  BIGINT PRIMARY KEY REFERENCES bank_transactions (id),
    invoice_id           BIGINT REFERENCES invoices (id),
    -- The reversal that took the payment back (a monthly-invoiced one gets a credit note).
    reversed_by          BIGINT REFERENCES bank_transactions (id),
    created_at           BIGINT NOT NULL
);
CREATE INDEX invoiced_payments_invoice ON invoiced_payments (invoice_id);
