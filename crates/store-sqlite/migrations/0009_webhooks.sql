-- Receipts pushed to the trade (issue 14). The receipts themselves are not stored again: the
-- feed reads them from the events (the chain) and the declarations they belong to, so they
-- survive any restart exactly as the record does. What is kept here is operational state of
-- delivery, not part of the record: an enterprise's webhook (its URL, the secret the requests
-- are signed with, the cursor after which nothing is delivered yet, and the lease that lets
-- one instance deliver at a time) and the receipts that failed every attempt (dead letters).
CREATE TABLE webhooks (
    enterprise TEXT PRIMARY KEY,           -- the enterprise's credit code
    id TEXT NOT NULL UNIQUE,               -- a new id at each registration
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    delivered TEXT NOT NULL,               -- the feed cursor of the last receipt delivered
    lease_holder TEXT,
    lease_until_ms INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE webhook_dead_letters (
    id TEXT PRIMARY KEY,
    enterprise TEXT NOT NULL,
    cursor TEXT NOT NULL,                  -- the receipt's own feed cursor
    declaration_id TEXT NOT NULL,
    body TEXT NOT NULL,                    -- what was sent, byte for byte
    content_type TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    failed_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_dead_letters_by_enterprise
    ON webhook_dead_letters (enterprise, failed_at_ms);
