-- Multi-step operations (sagas) and how far each got. A step is recorded as started BEFORE it
-- runs, so after a crash every step that may have had an effect is known: an unfinished create
-- is undone, an unfinished delete is finished, at the next start.
CREATE TABLE operations (
    id            UUID PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('vm_create', 'vm_delete')),
    vm_uuid       UUID NOT NULL,
    params        JSONB NOT NULL,
    steps_started TEXT[] NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL DEFAULT 'running'
                  CHECK (state IN ('running', 'unwinding', 'done', 'undone', 'failed')),
    error         TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX operations_unfinished_idx ON operations (created_at)
    WHERE state IN ('running', 'unwinding');
CREATE INDEX operations_vm_idx ON operations (vm_uuid);
