ALTER TABLE vms DROP CONSTRAINT vms_disk_size_gb_check;
ALTER TABLE vms ADD CONSTRAINT vms_disk_size_gb_check CHECK (disk_size_gb > 0);
