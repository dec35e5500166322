-- Executing a review removes DAP from the removals that are ready and leaves the review open for
-- the undecided customers; an admin closes it deliberately. Which job each customer's removal
-- went to is kept per customer: that decision is final, the others are not.
ALTER TABLE review_customers ADD COLUMN executed_job_id TEXT;
ALTER TABLE reviews ADD COLUMN closed_by TEXT;
ALTER TABLE reviews ADD COLUMN closed_at_ms BIGINT;
ALTER TABLE reviews ADD COLUMN close_note TEXT;

-- Reviews executed before this closed at their (single) execution.
UPDATE review_customers SET executed_job_id = (
    SELECT r.job_id FROM reviews r WHERE r.id = review_customers.review_id
) WHERE EXISTS (
    SELECT 1 FROM reviews r JOIN job_items i ON i.job_id = r.job_id
    WHERE r.id = review_customers.review_id
      AND i.customer_tenant_id = review_customers.customer_tenant_id
);
UPDATE reviews SET closed_by = executed_by, closed_at_ms = executed_at_ms,
    close_note = 'Closed by its execution (reviews executed before they stayed open).'
WHERE job_id IS NOT NULL;
