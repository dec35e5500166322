-- Bulk jobs (grant consent, revoke consent, remove DAP): one row per job and one per customer.
-- Each item's MS-RequestId is fixed when the job is created, so a retry, a resumed run or another
-- instance taking the job over sends the same id and Partner Center applies the write once.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    -- grant-consent | revoke-consent | remove-dap
    kind TEXT NOT NULL,
    started_by TEXT NOT NULL,
    -- whose stored credential the background work uses
    started_by_key TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    finished_at_ms BIGINT,
    correlation_id TEXT NOT NULL,
    -- consent jobs: the application and (grants) what is granted
    application_id TEXT,
    display_name TEXT,
    grants_json TEXT,
    -- remove-dap jobs started from a review
    review_id TEXT,
    -- the customers filter (query string) or review the job was started from
    scope TEXT NOT NULL,
    cancel_requested_by TEXT,
    cancel_requested_at_ms BIGINT,
    -- the instance running the job and until when its claim holds (renewed while it runs)
    claimed_by TEXT,
    claimed_until_ms BIGINT
);

CREATE INDEX jobs_by_time ON jobs (created_at_ms);
CREATE INDEX jobs_unfinished ON jobs (finished_at_ms, claimed_until_ms);

CREATE TABLE job_items (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    position BIGINT NOT NULL,
    customer_tenant_id TEXT NOT NULL,
    organization_display_name TEXT NOT NULL,
    request_id TEXT NOT NULL,
    -- pending | done | failed | cancelled
    status TEXT NOT NULL,
    -- attempts started; one audit entry is written for each
    attempts BIGINT NOT NULL,
    -- set while an attempt is on the wire: after a crash the attempt's outcome is unknown
    attempt_started_at_ms BIGINT,
    upstream_status BIGINT,
    detail TEXT,
    finished_at_ms BIGINT,
    PRIMARY KEY (job_id, customer_tenant_id)
);

CREATE INDEX job_items_by_position ON job_items (job_id, position);
CREATE UNIQUE INDEX job_items_by_request ON job_items (request_id);

-- DAP-removal reviews: the customers of a filter, a decision per customer, and (four-eyes) a
-- second admin's approval of each removal. Decisions are appended, never changed: the latest
-- per customer counts and the rest is history.
CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    started_by TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    scope TEXT NOT NULL,
    -- 0 or 1: removals need approval by a second admin
    four_eyes BIGINT NOT NULL,
    executed_by TEXT,
    executed_at_ms BIGINT,
    job_id TEXT
);

CREATE INDEX reviews_by_time ON reviews (started_at_ms);

CREATE TABLE review_customers (
    review_id TEXT NOT NULL REFERENCES reviews (id),
    customer_tenant_id TEXT NOT NULL,
    organization_display_name TEXT NOT NULL,
    dap_since TEXT,
    last_sign_in TEXT,
    PRIMARY KEY (review_id, customer_tenant_id)
);

CREATE TABLE review_decisions (
    id TEXT PRIMARY KEY,
    review_id TEXT NOT NULL REFERENCES reviews (id),
    customer_tenant_id TEXT NOT NULL,
    -- remove | keep | approve
    decision TEXT NOT NULL,
    note TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at_ms BIGINT NOT NULL
);

CREATE INDEX review_decisions_by_customer ON review_decisions (review_id, customer_tenant_id, decided_at_ms);

-- Bumped when a job changes a snapshot row in place (DAP removed), so every instance reloads it.
ALTER TABLE customer_snapshots ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
