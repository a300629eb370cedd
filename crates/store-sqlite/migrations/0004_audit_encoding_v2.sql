-- 0002: audit-chain encoding version 2 (issue 10, defect 9).
--
-- Each event names the layout its hash was computed with. Entries written before this migration
-- keep version 1 (their hash does not cover the idempotency scope, the request digest or the
-- projection) and still verify with it; the writer appends version 2 from now on.
-- `projection` is the event's change to the derived tables as the store recorded it (JSON of
-- `store::Projection`, without the bulky contents kept once beside the chain), covered by the
-- version-2 hash, so `audit verify` can rebuild the tables from the chain and compare them.
-- Empty for version-1 entries, and for events whose table row is read from the payload (a CBEC
-- booking).
ALTER TABLE events ADD COLUMN encoding_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE events ADD COLUMN projection TEXT NOT NULL DEFAULT '';
