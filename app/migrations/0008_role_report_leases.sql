-- Privileged-role reports are held by one instance at a time, like bulk jobs (see 0006): the
-- instance that runs one renews its lease, and another takes it over once the lease lapses.
ALTER TABLE role_reports ADD COLUMN claimed_by TEXT;
ALTER TABLE role_reports ADD COLUMN claimed_until_ms BIGINT;
