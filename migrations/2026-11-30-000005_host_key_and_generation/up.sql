-- Every VM lives on a libvirt host, named by a key: `local` while Limen manages one host
-- (SPEC §13 adds more; adding one then changes the host layer and the configuration only).
ALTER TABLE vms ADD COLUMN host TEXT NOT NULL DEFAULT 'local'
    CHECK (host ~ '^[a-z0-9][a-z0-9._-]{0,62}$');

-- The version of a VM record, published with the VM: every write takes a fresh value of its
-- host's clock (the clock of the live view's generations: microseconds, strictly increasing),
-- and the trigger makes sure an update always raises it. A VM is published with the newer of
-- this and its live state's generation, so of two copies a browser keeps the larger.
-- (`status_generation` stays what it was: the guard that keeps an older observation of
-- libvirt from overwriting a newer one.)
ALTER TABLE vms ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
UPDATE vms SET generation = status_generation;

CREATE FUNCTION vms_generation_grows() RETURNS trigger AS $$
BEGIN
    NEW.generation := GREATEST(NEW.generation, OLD.generation + 1);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER vms_generation_grows BEFORE UPDATE ON vms
    FOR EACH ROW EXECUTE FUNCTION vms_generation_grows();

-- Operation kinds are the sagas registered in the code (`ops::registry`); a CHECK listing
-- them would need a migration for every new saga. Recovery refuses a kind it does not know.
ALTER TABLE operations DROP CONSTRAINT operations_kind_check;
