DROP TABLE audit_log;
DROP INDEX vms_owner_idx;
ALTER TABLE vms DROP CONSTRAINT vms_owner_fkey;
DROP TABLE quotas;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE users;
