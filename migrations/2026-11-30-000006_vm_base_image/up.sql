-- The base image (its name in the image library) a VM's disk is a copy-on-write overlay of:
-- deleting that image would break the disk, so the library refuses while a record names it.
-- NULL: a blank disk, or an adopted VM's own.
ALTER TABLE vms ADD COLUMN base_image TEXT;
