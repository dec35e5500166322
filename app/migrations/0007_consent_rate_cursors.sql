-- The shared consent rate limit (PostgreSQL, several instances): per application, the earliest
-- time (microseconds, the database's clock) at which the next consent call may be sent. Each
-- call moves it on by one spacing in a single atomic upsert.
CREATE TABLE consent_rate_cursors (
    application_id TEXT PRIMARY KEY,
    next_at_us BIGINT NOT NULL
);
