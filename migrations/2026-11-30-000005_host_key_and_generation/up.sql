-- Every VM lives on a libvirt host, named by a key: `local` while Limen manages one host
-- (SPEC §13 adds more; adding one then changes the host layer and the configuration only).
ALTER TABLE vms ADD COLUMN host TEXT NOT NULL DEFAULT 'local'
    CHECK (host ~ '^[a-z0-9][a-z0-9._-]{0,62}$');

-- The version of a VM record, published with the VM: every write takes the next value, so of
-- two copies of a VM a browser keeps the one with the larger generation. (`status_generation`
-- stays what it was: the guard that keeps an older observation of libvirt from overwriting a
-- newer one.)
CREATE SEQUENCE vm_generation_seq;
ALTER TABLE vms ADD COLUMN generation BIGINT NOT NULL DEFAULT nextval('vm_generation_seq');

-- Operation kinds are the sagas registered in the code (`ops::registry`); a CHECK listing
-- them would need a migration for every new saga. Recovery refuses a kind it does not know.
ALTER TABLE operations DROP CONSTRAINT operations_kind_check;
