ALTER TABLE operations ADD CONSTRAINT operations_kind_check CHECK (kind IN ('vm_create', 'vm_delete'));
DROP TRIGGER vms_generation_grows ON vms;
DROP FUNCTION vms_generation_grows();
ALTER TABLE vms DROP COLUMN generation;
ALTER TABLE vms DROP COLUMN host;
