-- Append-only audit log: every write and every attempt, sign-ins and sign-outs. The code has
-- no UPDATE or DELETE on this table; an entry is written in the same transaction as the state
-- it describes where there is one.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor_upn TEXT NOT NULL,
    action TEXT NOT NULL,
    customer_tenant_id TEXT,
    target TEXT,
    request_id TEXT,
    correlation_id TEXT,
    upstream_status BIGINT,
    outcome TEXT NOT NULL,
    error TEXT
);

CREATE INDEX audit_log_by_time ON audit_log (at_ms);
