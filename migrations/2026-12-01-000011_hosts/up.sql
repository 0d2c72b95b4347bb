-- The libvirt hosts Limen manages (SPEC §13). `key` is what VM records, operations and events
-- name a host by and never changes; `name` is what people call it and may be renamed. The host
-- Limen runs on is `local`: its row is written at every start with the configuration's URI
-- (`LIMEN_LIBVIRT_URI`), and it can be neither disabled nor removed.
CREATE TABLE hosts (
    key TEXT PRIMARY KEY CHECK (key ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    name TEXT NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    uri TEXT NOT NULL CHECK (length(uri) BETWEEN 1 AND 1024),
    -- A disabled host keeps its VMs (they are watched and can be stopped, started, migrated
    -- away) but no new VM is placed on it.
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    -- libvirt's host UUID (its capabilities), learned when the host is added: the same daemon
    -- under two URIs would list every VM twice.
    libvirt_uuid UUID UNIQUE,
    added_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX hosts_name_key ON hosts (lower(name));

-- The hosts existing records name (`local`, on an install that knew only it); an empty
-- database stays empty (a restore loads its hosts from the archive).
INSERT INTO hosts (key, name, uri) SELECT DISTINCT host, host, 'qemu:///system' FROM vms;

ALTER TABLE vms ADD CONSTRAINT vms_host_fkey FOREIGN KEY (host) REFERENCES hosts (key);
