-- Four-eyes by identity, not by name: who decided is the admin's tenant id + object id (the
-- UPN can be renamed or reassigned), and an approval names the one decision it approves, so a
-- later decision voids it. Rows written before this have neither: their approvals do not count.
ALTER TABLE review_decisions ADD COLUMN decided_by_key TEXT;
ALTER TABLE review_decisions ADD COLUMN approves_decision_id TEXT;
