-- VM records: what Limen knows that the hypervisor does not (owner, role, history),
-- plus the last status it observed, guarded by a generation.
CREATE TABLE vms (
    uuid                UUID PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE
                        CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    owner               TEXT,
    vcpus               INTEGER NOT NULL CHECK (vcpus > 0),
    memory_mib          BIGINT NOT NULL CHECK (memory_mib > 0),
    disk_size_gb        BIGINT NOT NULL CHECK (disk_size_gb > 0),
    disk_path           TEXT NOT NULL,
    os_type             TEXT NOT NULL DEFAULT 'linux',
    boot_order          TEXT NOT NULL DEFAULT 'cdrom_hd'
                        CHECK (boot_order IN ('cdrom_hd', 'hd', 'cdrom', 'hd_cdrom')),
    installation_status TEXT NOT NULL DEFAULT 'NotInstalled'
                        CHECK (installation_status IN ('NotInstalled', 'Installing', 'Installed', 'InstallationFailed')),
    current_media       TEXT,
    role                TEXT,
    status              TEXT NOT NULL DEFAULT 'creating'
                        CHECK (status IN ('running', 'stopped', 'paused', 'shutting_down', 'crashed',
                                          'creating', 'deleting', 'missing', 'unknown')),
    status_generation   BIGINT NOT NULL DEFAULT 0,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX vms_role_idx ON vms (role) WHERE role IS NOT NULL;
