ALTER TABLE vms DROP COLUMN disk_allocated_gb;
DROP TABLE snapshots;
