-- Mobile-originated messages. account_id is the account that last sent to the sender's number
-- (a reply goes to whoever wrote to that person); NULL when nobody did.
CREATE TABLE inbound_messages (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER REFERENCES accounts (id),
    connector    TEXT    NOT NULL,
    from_number  TEXT    NOT NULL,
    to_number    TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    smsc_id      TEXT,
    received_at  INTEGER NOT NULL
);
CREATE INDEX inbound_messages_account ON inbound_messages (account_id, id);
CREATE INDEX messages_to_number ON messages (to_number, id);
