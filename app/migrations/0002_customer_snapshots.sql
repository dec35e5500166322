-- The delegated-admin customers as last read from the Partner Customer Administration API. A sync
-- writes a whole new snapshot in one transaction and only then removes the previous one, so a
-- failed or half-finished sync never replaces the last good list.
CREATE TABLE customer_snapshots (
    id TEXT PRIMARY KEY,
    synced_at_ms BIGINT NOT NULL,
    synced_by TEXT NOT NULL,
    customer_count BIGINT NOT NULL
);

CREATE INDEX customer_snapshots_by_time ON customer_snapshots (synced_at_ms);

CREATE TABLE snapshot_customers (
    snapshot_id TEXT NOT NULL REFERENCES customer_snapshots (id) ON DELETE CASCADE,
    customer_tenant_id TEXT NOT NULL,
    organization_display_name TEXT NOT NULL,
    -- 0 or 1: the Any driver cannot decode SQLite booleans.
    dap_enabled BIGINT NOT NULL,
    dap_since TEXT,
    dap_ended TEXT,
    last_sign_in TEXT,
    partner_agent_count BIGINT NOT NULL,
    partner_sign_in_count BIGINT NOT NULL,
    global_admin_sign_in_count BIGINT NOT NULL,
    PRIMARY KEY (snapshot_id, customer_tenant_id)
);
