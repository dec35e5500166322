-- Each customer's GDAP coverage class (unknown | none | at_risk | partial | covered) and its
-- reasons (one per line), as of the sync that stored the snapshot.
ALTER TABLE snapshot_customers ADD COLUMN gdap_coverage TEXT;
ALTER TABLE snapshot_customers ADD COLUMN gdap_reasons TEXT;

-- A review keeps each customer's coverage as of its start, and a decision the coverage it was
-- taken against (a removal of an uncovered customer is a deliberate override, with its note).
ALTER TABLE review_customers ADD COLUMN gdap_coverage TEXT;
ALTER TABLE review_customers ADD COLUMN gdap_reasons TEXT;
ALTER TABLE review_decisions ADD COLUMN coverage_at_decision TEXT;
