-- Explanations an admin has read and hidden (the customers page's "what to do first"), by the
-- admin's identity (tenant:object-id), so they stay hidden in every browser.
CREATE TABLE dismissed_hints (
    user_key TEXT NOT NULL,
    hint TEXT NOT NULL,
    dismissed_at_ms BIGINT NOT NULL,
    PRIMARY KEY (user_key, hint)
);
