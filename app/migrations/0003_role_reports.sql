-- Privileged-role reports: who holds Global Administrator, Privileged Role Administrator and
-- the Partner Tier1/Tier2 Support roles in each selected customer. One row per customer keeps
-- its status, so a report interrupted by a restart resumes with the customers still pending.
CREATE TABLE role_reports (
    id TEXT PRIMARY KEY,
    started_by TEXT NOT NULL,
    -- whose stored credential the background work uses
    started_by_key TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    finished_at_ms BIGINT,
    scope TEXT NOT NULL
);

CREATE TABLE role_report_customers (
    report_id TEXT NOT NULL REFERENCES role_reports (id),
    customer_tenant_id TEXT NOT NULL,
    organization_display_name TEXT NOT NULL,
    -- pending | done | failed
    status TEXT NOT NULL,
    error TEXT,
    correlation_id TEXT,
    PRIMARY KEY (report_id, customer_tenant_id)
);

CREATE TABLE role_report_holders (
    report_id TEXT NOT NULL REFERENCES role_reports (id),
    customer_tenant_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    role_name TEXT NOT NULL,
    user_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    user_principal_name TEXT NOT NULL,
    PRIMARY KEY (report_id, customer_tenant_id, role_id, user_id)
);
