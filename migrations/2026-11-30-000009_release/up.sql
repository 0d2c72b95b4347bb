-- Which Limen release last migrated this database (one row). A binary older than the schema
-- names it when it refuses to start; `limen backup` writes it into the manifest.
CREATE TABLE limen_release (
    singleton   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    version     TEXT NOT NULL,
    migrated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
