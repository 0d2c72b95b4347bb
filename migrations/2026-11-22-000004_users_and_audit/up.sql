-- Users, their sessions and API tokens (only SHA-256 hashes of the secrets are stored),
-- per-user quotas and the audit log (SPEC §3, §9).
CREATE TABLE users (
    username      TEXT PRIMARY KEY
                  CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    disabled      BOOLEAN NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sessions_username_idx ON sessions (username);

CREATE TABLE api_tokens (
    id           UUID PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_username_idx ON api_tokens (username);

-- NULL is "no limit".
CREATE TABLE quotas (
    username       TEXT PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
    max_vms        INTEGER CHECK (max_vms >= 0),
    max_vcpus      INTEGER CHECK (max_vcpus >= 0),
    max_memory_mib BIGINT CHECK (max_memory_mib >= 0),
    max_disk_gb    BIGINT CHECK (max_disk_gb >= 0)
);

-- Owners named before accounts existed (adopt's free text) match no user: such VMs become
-- unowned (only admins see them) rather than silently belonging to whoever later gets that
-- username. From now on an owner is a user, and a user who owns VMs cannot be deleted.
UPDATE vms SET owner = NULL WHERE owner IS NOT NULL;
ALTER TABLE vms ADD CONSTRAINT vms_owner_fkey
    FOREIGN KEY (owner) REFERENCES users (username) ON DELETE RESTRICT;
CREATE INDEX vms_owner_idx ON vms (owner);

-- Who did what, to what, and how it went. No foreign key: history outlives accounts.
CREATE TABLE audit_log (
    id        BIGSERIAL PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    username  TEXT,
    address   TEXT,
    action    TEXT NOT NULL,
    target    TEXT,
    outcome   TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    detail    TEXT
);
CREATE INDEX audit_log_username_idx ON audit_log (username, id);
