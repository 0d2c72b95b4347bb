ALTER TABLE vms DROP COLUMN base_image;
