-- Recent submissions of forms that act (a bulk job start, a review decision), by a key naming
-- who submitted what: a second identical submission within seconds (a double click, a resent
-- form) gets the first one's result instead of acting twice. Rows older than the window are
-- pruned as new ones arrive.
CREATE TABLE submissions (
    submission_key TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);

CREATE INDEX submissions_by_time ON submissions (at_ms);
