-- Token lifecycle (issue 10, defect 8): tokens get a public id, an expiry and the event that
-- revoked them; users can be disabled. Tokens issued before expiry existed expire 90 days after
-- issue, like new ones (fail closed: no token lives for ever).
ALTER TABLE tokens ADD COLUMN id TEXT;
ALTER TABLE tokens ADD COLUMN expires_at_ms BIGINT;
ALTER TABLE tokens ADD COLUMN revoked_seq BIGINT;
UPDATE tokens SET id = 'T-' || substr(token_hash, 1, 16),
    expires_at_ms = created_at_ms + 90 * 86400000;
CREATE UNIQUE INDEX tokens_by_id ON tokens (id);
CREATE INDEX tokens_by_user ON tokens (user_id, created_at_ms);

-- The event that disabled the user; NULL while enabled.
ALTER TABLE users ADD COLUMN disabled_seq BIGINT;
