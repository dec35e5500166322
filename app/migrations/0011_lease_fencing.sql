-- Background work is fenced: every claim of a job or report row increments its claim_fence, and
-- every write its holder makes checks the number it claimed with, so an instance that lost the
-- row (its lease lapsed and another claimed it) can no longer change it. claimed_until_ms is on
-- the database's clock from now on (see background.rs).
ALTER TABLE jobs ADD COLUMN claim_fence BIGINT NOT NULL DEFAULT 0;
ALTER TABLE role_reports ADD COLUMN claim_fence BIGINT NOT NULL DEFAULT 0;
-- A pending item is not sent before this time (the database's clock, Unix ms): set when the
-- service asked to come back later than a job waits holding its lease (a long Retry-After), or
-- when a token could not be had for a while.
ALTER TABLE job_items ADD COLUMN not_before_ms BIGINT;
