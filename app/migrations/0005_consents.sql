-- CPV application consents the dashboard granted (Partner Center cannot list them). One row
-- per customer and application; a revoke keeps the row (and its grants, for an undo).
CREATE TABLE consents (
    customer_tenant_id TEXT NOT NULL,
    application_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    grants_json TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    granted_at_ms BIGINT NOT NULL,
    revoked_by TEXT,
    revoked_at_ms BIGINT,
    PRIMARY KEY (customer_tenant_id, application_id)
);

CREATE INDEX consents_by_application ON consents (application_id);
