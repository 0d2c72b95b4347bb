-- An adopted domain (created outside Limen) may have no disk: its size is then 0 and its path
-- empty. Limen's own VMs are still created with a disk of at least 1 GiB (checked at create).
ALTER TABLE vms DROP CONSTRAINT vms_disk_size_gb_check;
ALTER TABLE vms ADD CONSTRAINT vms_disk_size_gb_check CHECK (disk_size_gb >= 0);
