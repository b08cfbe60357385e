-- The web: users who sign in to the customer app or the back office, their sessions, login
-- attempts (rate limit and lockout), one-time tokens (e-mail verification, password reset),
-- consent records (cookies, marketing), the e-mail outbox, and the audit of staff views.
-- Times are UTC microseconds since the Unix epoch; every integer is BIGINT so that both backends
-- decode to i64. Secrets are stored as hashes only:
-- passwords as argon2 PHC strings, session ids and tokens as SHA-256 hex.

CREATE TABLE web_users (
    id                  BIGINT PRIMARY KEY,
    account_id          BIGINT  NOT NULL REFERENCES accounts (id),
    email               TEXT    NOT NULL UNIQUE,
    password_hash       TEXT    NOT NULL,
    kind                TEXT    NOT NULL CHECK (kind IN ('person', 'business')),
    full_name           TEXT    NOT NULL,
    company             TEXT,
    ico                 TEXT,
    dic                 TEXT,
    address             TEXT    NOT NULL,
    phone               TEXT,
    birth_date          TEXT    NOT NULL,
    age_text_version    TEXT    NOT NULL,
    terms_version       TEXT    NOT NULL,
    lang                TEXT    NOT NULL CHECK (lang IN ('cs', 'en')),
    role                TEXT    NOT NULL DEFAULT 'customer'
                        CHECK (role IN ('customer', 'support', 'billing', 'dpo', 'admin')),
    email_verified_at   BIGINT,
    totp_secret         TEXT,
    totp_enabled_at     BIGINT,
    locked_until        BIGINT,
    created_at          BIGINT  NOT NULL
);
CREATE INDEX web_users_account ON web_users (account_id);

CREATE TABLE web_sessions (
    id_hash     TEXT    PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES web_users (id),
    -- 'password': the password was right and a TOTP code is still due; 'full': signed in.
    stage       TEXT    NOT NULL CHECK (stage IN ('password', 'full')),
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

CREATE TABLE web_login_attempts (
    id          BIGSERIAL PRIMARY KEY,
    email       TEXT    NOT NULL,
    ip          TEXT    NOT NULL,
    success     BIGINT  NOT NULL,
    at          BIGINT  NOT NULL
);
CREATE INDEX web_login_attempts_email ON web_login_attempts (email, at);
CREATE INDEX web_login_attempts_ip ON web_login_attempts (ip, at);

CREATE TABLE web_tokens (
    token_hash  TEXT    PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES web_users (id),
    purpose     TEXT    NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT,
    created_at  BIGINT  NOT NULL
);

-- A consent record (clauses 7.1 and 9): who (subject: 'user:ID' or 'visitor:RANDOM'), for what
-- (purpose: a cookie category or 'marketing_email'), under which wording (text_version), how
-- (channel: 'web'), from where (source: the page or form), when, whether it was given or refused,
-- and when it was withdrawn. A changed choice withdraws the earlier records and adds new ones.
CREATE TABLE consents (
    id            BIGSERIAL PRIMARY KEY,
    subject       TEXT    NOT NULL,
    purpose       TEXT    NOT NULL,
    granted       BIGINT  NOT NULL,
    text_version  TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    at            BIGINT  NOT NULL,
    withdrawn_at  BIGINT
);
CREATE INDEX consents_subject ON consents (subject, id);

-- Mail to send. Without SMTP settings a row stays here (and the log names it) for development.
CREATE TABLE email_outbox (
    id          BIGSERIAL PRIMARY KEY,
    to_address  TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    sent_at     BIGINT
);

-- Every staff view of personal data (clause 12).
CREATE TABLE staff_audit_log (
    id          BIGSERIAL PRIMARY KEY,
    staff_user  BIGINT  NOT NULL,
    action      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    at          BIGINT  NOT NULL
);
CREATE INDEX staff_audit_log_at ON staff_audit_log (at);
