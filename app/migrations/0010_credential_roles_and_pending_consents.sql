-- The dashboard app roles (`roles` claim) of the admin's last verified id token, at sign-in and
-- at each refresh that returned one: a JSON array of strings. NULL: not known yet.
ALTER TABLE user_credentials ADD COLUMN app_roles TEXT;

-- A one-off consent write is recorded as pending before Partner Center is called and confirmed
-- after, so a crash in between leaves a record that says the outcome is unknown (and which the
-- admin can repair by granting or revoking again). NULL: confirmed. 'grant' or 'revoke': the
-- call was sent at pending_since_ms by pending_by, and its outcome is unknown.
ALTER TABLE consents ADD COLUMN pending_action TEXT;
ALTER TABLE consents ADD COLUMN pending_by TEXT;
ALTER TABLE consents ADD COLUMN pending_since_ms BIGINT;
