-- 0001: the PostgreSQL store's schema: the event log (which is the audit chain) and the
-- projections derived from it, in the shape SQLite's migrations 0001-0007 reach, with these
-- differences:
-- - `events.chain` (SMALLINT, 0 for now): the audit chain an entry belongs to. Today there is
--   one chain, serialised on its row of `chain_heads`; partitioning it later (a fixed number of
--   chains chosen by a stable hash of the subject) is a data change, not a schema change.
-- - `chain_heads`: one row per chain with its head, locked `FOR UPDATE` by every append, so
--   appends from any number of processes are chained one after the other, gap-free.
-- - `declarations.row` and `cbec_ledger.row` are the seq of the event that made the row (no
--   sequence: a sequence leaves gaps on rollback, and a seq is rebuilt identically from the chain).
-- - integers are BIGINT (Rust i64), blobs BYTEA; `tokens.revoked` is gone (`revoked_seq` says it).
-- - documents, payloads and outcomes are TEXT, not jsonb: the chain covers them byte for byte,
--   and jsonb would re-encode them. The few aggregate reads cast to jsonb where they need to.

CREATE TABLE chain_heads (
    chain SMALLINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    head_hash BYTEA NOT NULL
);
INSERT INTO chain_heads (chain, seq, head_hash) VALUES (0, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    chain SMALLINT NOT NULL DEFAULT 0,
    subject TEXT NOT NULL,
    action TEXT NOT NULL,
    actor_user TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    recorded_at_ms BIGINT NOT NULL,
    idempotency_scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    entry_hash BYTEA NOT NULL,
    encoding_version SMALLINT NOT NULL,
    projection TEXT NOT NULL DEFAULT '',
    UNIQUE (idempotency_scope, idempotency_key)
);
CREATE INDEX events_by_subject ON events (subject, seq);

CREATE TABLE declarations (
    row BIGINT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    number TEXT NOT NULL UNIQUE,
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    office_of_lodging TEXT NOT NULL,
    trader_credit_code TEXT NOT NULL,
    declarant_credit_code TEXT NOT NULL,
    summary_number TEXT,
    completed_by TEXT,
    lodged_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    released_at_ms BIGINT,
    version BIGINT NOT NULL,
    document_seq BIGINT NOT NULL
);
CREATE INDEX declarations_by_lodging ON declarations (lodged_at_ms, row);
CREATE INDEX declarations_by_trader ON declarations (trader_credit_code, lodged_at_ms, row);
CREATE INDEX declarations_by_declarant ON declarations (declarant_credit_code, lodged_at_ms, row);
CREATE INDEX declarations_by_status ON declarations (status, lodged_at_ms, row);
CREATE INDEX declarations_by_release ON declarations (released_at_ms) WHERE released_at_ms IS NOT NULL;

CREATE TABLE enterprises (
    id TEXT PRIMARY KEY,
    credit_code TEXT NOT NULL UNIQUE,
    customs_code TEXT NOT NULL,
    name TEXT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    enterprise_id TEXT REFERENCES enterprises (id),
    disabled_seq BIGINT,
    password_hash TEXT
);
CREATE INDEX users_by_role ON users (role, id);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    revoked_seq BIGINT
);
CREATE INDEX tokens_by_user ON tokens (user_id, created_at_ms);

CREATE TABLE broker_authorisations (
    broker_enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    principal_enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    PRIMARY KEY (broker_enterprise_id, principal_enterprise_id)
);

-- Numbering counters: reserved with one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, a
-- row lock held for that statement only, so processes never hand out a serial twice.
CREATE TABLE counters (
    counter_key TEXT PRIMARY KEY,
    next_serial BIGINT NOT NULL
);

CREATE TABLE checkpoints (
    seq BIGINT PRIMARY KEY,
    head_hash BYTEA NOT NULL,
    signed_at_ms BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signature BYTEA NOT NULL
);

CREATE TABLE cbec_ledger (
    row BIGINT PRIMARY KEY,
    order_ref TEXT NOT NULL UNIQUE,
    buyer_id TEXT NOT NULL,
    year INTEGER NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    year_to_date_fen BIGINT NOT NULL,
    recorded_at_ms BIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX cbec_ledger_by_buyer ON cbec_ledger (buyer_id, year, amount_fen);

CREATE TABLE releases (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    digest TEXT NOT NULL,
    imported_at_ms BIGINT NOT NULL,
    imported_by TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('imported', 'active', 'rolled_back')),
    effective_from TEXT,
    activated_seq BIGINT,
    rolled_back_seq BIGINT,
    summary TEXT NOT NULL,
    imported_seq BIGINT NOT NULL,
    UNIQUE (kind, digest)
);
CREATE INDEX releases_by_kind ON releases (kind, imported_seq);

CREATE TABLE release_files (
    release_id TEXT NOT NULL REFERENCES releases (id),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (release_id, position),
    UNIQUE (release_id, name)
);

CREATE TABLE origin_proof_uses (
    proof_key TEXT PRIMARY KEY,
    declaration_id TEXT NOT NULL,
    seq BIGINT NOT NULL
);

CREATE TABLE risk_rules (
    id TEXT NOT NULL,
    version BIGINT NOT NULL CHECK (version >= 1),
    status TEXT NOT NULL CHECK (status IN ('proposed', 'active', 'superseded', 'retired')),
    definition TEXT NOT NULL,
    author TEXT NOT NULL,
    proposed_at_ms BIGINT NOT NULL,
    proposed_seq BIGINT NOT NULL,
    approved_by TEXT,
    approved_seq BIGINT,
    ended_seq BIGINT,
    PRIMARY KEY (id, version),
    CHECK (approved_by IS NULL OR approved_by <> author)
);
CREATE INDEX risk_rules_by_status ON risk_rules (status, id, version);

CREATE TABLE enterprise_credit (
    credit_code TEXT NOT NULL REFERENCES enterprises (credit_code),
    level TEXT NOT NULL CHECK (level IN ('advanced_certified', 'general_certified', 'general', 'untrustworthy')),
    since_ms BIGINT NOT NULL,
    seq BIGINT NOT NULL UNIQUE,
    PRIMARY KEY (credit_code, seq)
);

CREATE TABLE history_batches (
    id TEXT PRIMARY KEY,
    format TEXT NOT NULL,
    label TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    rows BIGINT NOT NULL,
    labelled BIGINT NOT NULL,
    first_date TEXT NOT NULL,
    last_date TEXT NOT NULL,
    imported_by TEXT NOT NULL,
    imported_seq BIGINT NOT NULL UNIQUE,
    text TEXT NOT NULL
);

CREATE TABLE risk_models (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('shadow', 'active', 'retired')),
    source TEXT NOT NULL,
    author TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_seq BIGINT NOT NULL UNIQUE,
    promoted_by TEXT,
    promoted_seq BIGINT,
    ended_seq BIGINT,
    bytes BYTEA NOT NULL
);
CREATE UNIQUE INDEX risk_models_one_active ON risk_models (status) WHERE status = 'active';

CREATE TABLE officer_duty (
    officer TEXT NOT NULL REFERENCES users (id),
    office TEXT,
    since_ms BIGINT NOT NULL,
    seq BIGINT NOT NULL UNIQUE,
    PRIMARY KEY (officer, seq)
);
CREATE INDEX officer_duty_by_office ON officer_duty (office, officer);

CREATE TABLE watch_entries (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    reason_en TEXT NOT NULL,
    reason_zh TEXT NOT NULL,
    action TEXT NOT NULL,
    valid_from TEXT,
    valid_to TEXT,
    added_by TEXT NOT NULL,
    added_at_ms BIGINT NOT NULL,
    added_seq BIGINT NOT NULL UNIQUE,
    removed_seq BIGINT,
    approved_by TEXT,
    approved_seq BIGINT,
    removal_requested_by TEXT,
    removal_requested_seq BIGINT,
    removed_by TEXT
);

CREATE TABLE inspection_tasks (
    id TEXT PRIMARY KEY,
    declaration_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    office TEXT NOT NULL,
    assigned_to TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_at_ms BIGINT NOT NULL,
    created_seq BIGINT NOT NULL,
    closed_seq BIGINT,
    outcome TEXT,
    CHECK ((status = 'open') = (closed_seq IS NULL AND outcome IS NULL))
);
CREATE INDEX inspection_tasks_by_declaration ON inspection_tasks (declaration_id, created_seq);
CREATE INDEX inspection_tasks_by_assignee ON inspection_tasks (assigned_to, status, created_seq);
CREATE INDEX inspection_tasks_by_office ON inspection_tasks (office, status, created_seq);
CREATE INDEX inspection_tasks_open_by_office ON inspection_tasks (office, created_at_ms)
    WHERE status = 'open';

CREATE TABLE task_attachments (
    task_id TEXT NOT NULL REFERENCES inspection_tasks (id),
    digest TEXT NOT NULL,
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    added_by TEXT NOT NULL,
    added_seq BIGINT NOT NULL UNIQUE,
    content BYTEA NOT NULL,
    PRIMARY KEY (task_id, digest)
);

CREATE TABLE console_drafts (
    id TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    saved_seq BIGINT NOT NULL
);
CREATE INDEX console_drafts_by_enterprise ON console_drafts (enterprise_id, saved_seq);

CREATE TABLE declaration_documents (
    declaration_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    kind TEXT NOT NULL,
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    added_by TEXT NOT NULL,
    added_seq BIGINT NOT NULL,
    content BYTEA NOT NULL,
    PRIMARY KEY (declaration_id, digest)
);

-- A TEXT column read as JSON by the aggregate reads (dashboards, a trader's history): NULL for
-- a text that is not JSON, so one malformed outcome does not fail a whole count.
CREATE FUNCTION json_or_null(t TEXT) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN t::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
