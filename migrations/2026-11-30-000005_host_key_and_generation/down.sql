ALTER TABLE operations ADD CONSTRAINT operations_kind_check CHECK (kind IN ('vm_create', 'vm_delete'));
ALTER TABLE vms DROP COLUMN generation;
DROP SEQUENCE vm_generation_seq;
ALTER TABLE vms DROP COLUMN host;
