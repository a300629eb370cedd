-- 0002: the audit chain partitioned (issue 13: no global serialisation point).
--
-- - `chain_config` records how many chains there are; the store refuses to open a database whose
--   count differs from its build's `CHAINS`, since an event's chain is its subject's hash modulo
--   the count and a different count would send a declaration's next events to another chain.
-- - `chain_heads` gets one row per chain: an append locks only the heads of the chains its events
--   go to, so appends about different declarations no longer queue on one row.
-- - `events`: the seq is per chain (gap-free, hashed, verified by `audit::verify_chain` chain by
--   chain), the primary key (chain, seq). `row` is a global number from a sequence, for what
--   needs one number per event across chains (the projections' `*_seq` columns, `EventRow.seq`,
--   the declarations' listing order): unique, increasing within a chain, with gaps. Events made
--   before this migration keep their seq as their row (it was global), so the projections that
--   named them stay right.
-- - The idempotency key is unique in `idempotency_keys` (its own key, not the events'), which a
--   Citus deployment can distribute by scope while `events` is distributed by chain.
-- - `checkpoints` become per chain; each signing round also signs every chain head at once
--   (`checkpoint_rounds`), binding the chains together.

CREATE TABLE chain_config (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    chains SMALLINT NOT NULL CHECK (chains BETWEEN 1 AND 1024)
);
INSERT INTO chain_config (chains) VALUES (16);

INSERT INTO chain_heads (chain, seq, head_hash)
    SELECT c, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'
    FROM generate_series(1, 15) c;

ALTER TABLE events ADD COLUMN row BIGINT;
UPDATE events SET row = seq;
ALTER TABLE events ALTER COLUMN row SET NOT NULL;
CREATE SEQUENCE event_rows AS BIGINT;
SELECT setval('event_rows', COALESCE((SELECT max(seq) FROM events), 0) + 1, false);
ALTER TABLE events ALTER COLUMN row SET DEFAULT nextval('event_rows');
ALTER SEQUENCE event_rows OWNED BY events.row;
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD PRIMARY KEY (chain, seq);
CREATE INDEX events_by_row ON events (row);
DROP INDEX events_by_subject;
CREATE INDEX events_by_subject ON events (subject, row);

CREATE TABLE idempotency_keys (
    idempotency_scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    chain SMALLINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (idempotency_scope, idempotency_key)
);
INSERT INTO idempotency_keys (idempotency_scope, idempotency_key, chain, seq)
    SELECT idempotency_scope, idempotency_key, chain, seq FROM events;
ALTER TABLE events DROP CONSTRAINT events_idempotency_scope_idempotency_key_key;

ALTER TABLE checkpoints ADD COLUMN chain SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE checkpoints ADD COLUMN round BIGINT;
ALTER TABLE checkpoints DROP CONSTRAINT checkpoints_pkey;
ALTER TABLE checkpoints ADD PRIMARY KEY (chain, seq);

-- One signature over every chain's head (`audit::HeadsCheckpoint`): `heads` is, per chain in
-- order, its seq (8 bytes, big-endian) and head hash (32 bytes).
CREATE TABLE checkpoint_rounds (
    round BIGINT PRIMARY KEY,
    entries BIGINT NOT NULL,
    heads BYTEA NOT NULL,
    signed_at_ms BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signature BYTEA NOT NULL
);
