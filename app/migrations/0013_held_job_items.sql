-- A DAP removal is checked against the customer's GDAP coverage right before its call; when the
-- coverage fell since the decision the item is 'held' (not sent). An admin may release it: then
-- it is sent without stopping at that check, and who released it is kept here and in the audit.
ALTER TABLE job_items ADD COLUMN released_by TEXT;
ALTER TABLE job_items ADD COLUMN release_note TEXT;
