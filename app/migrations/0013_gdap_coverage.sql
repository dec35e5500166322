-- Each customer's GDAP coverage class (unknown | none | at_risk | partial | covered) and its
-- reasons (one per line), as of the sync that stored the snapshot.
ALTER TABLE snapshot_customers ADD COLUMN gdap_coverage TEXT;
ALTER TABLE snapshot_customers ADD COLUMN gdap_reasons TEXT;
