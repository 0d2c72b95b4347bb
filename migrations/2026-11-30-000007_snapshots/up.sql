-- Who took each snapshot through Limen (libvirt holds the snapshots themselves: which exist,
-- their tree and their data). A row whose snapshot libvirt no longer has is tidied by the
-- monitor and listed by reconcile until then.
CREATE TABLE snapshots (
    vm_uuid    UUID NOT NULL REFERENCES vms (uuid) ON DELETE CASCADE,
    name       TEXT NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    created_by TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The disk's size (GiB) when it was taken: a revert brings that size back, so a revert to
    -- a larger one is checked against the owner's disk quota first.
    disk_size_gb BIGINT,
    PRIMARY KEY (vm_uuid, name)
);

-- What the VM's disk file takes on the host, in whole GiB (rounded up), as last measured. With
-- internal snapshots it holds the blocks they keep and each memory snapshot's RAM, so it can
-- pass the disk's size: the disk quota counts the larger of the two.
ALTER TABLE vms ADD COLUMN disk_allocated_gb BIGINT NOT NULL DEFAULT 0;
