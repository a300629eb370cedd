-- 0001: the event log (which is the audit chain) and the projections derived from it.
--
-- Plain, portable shapes: a PostgreSQL store will create the same tables (BLOB becomes BYTEA).
-- `INTEGER PRIMARY KEY` is kept where SQLite should use the rowid (seq, row); everything else
-- names its type the way both databases understand it.

-- The event log. Every row is one audit-chain entry: `entry_hash` covers `prev_hash`, `seq` and
-- the entry fields, so the table is append-only by construction (an edit breaks the chain).
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    action TEXT NOT NULL,
    actor_user TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    recorded_at_ms BIGINT NOT NULL,
    idempotency_scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    entry_hash BLOB NOT NULL,
    UNIQUE (idempotency_scope, idempotency_key)
);

-- A declaration's history is read by subject, in seq order.
CREATE INDEX events_by_subject ON events (subject, seq);

-- Declarations as currently in force. `row` is the stable tiebreak for keyset pagination.
-- The document in force is not copied here: `document_seq` is the event whose payload carries
-- it as its `declaration` member (the acceptance, or the latest amendment), and reads take it
-- from there with `json_extract(payload, '$.declaration')`. One copy of each document, covered
-- by the audit chain, instead of two.
-- `document_seq` names an `events.seq` but declares no foreign key: the events are guarded by
-- the audit chain, which must be able to *detect* a deleted or swapped entry (an ordinary
-- connection enforces foreign keys in this SQLite build, so the key would refuse the edit
-- rather than protect anything: whoever edits the file can switch it off). A dangling pointer
-- reads as an error, never as a missing declaration.
CREATE TABLE declarations (
    row INTEGER PRIMARY KEY,
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
    -- When the goods were first released (the update that set the status `released`).
    released_at_ms BIGINT,
    version INTEGER NOT NULL,
    document_seq INTEGER NOT NULL
);

-- Newest-first listing walks this index backwards; the filtered indexes carry the same
-- ordering columns so a trader's or broker's list is read in order, without a sort.
CREATE INDEX declarations_by_lodging ON declarations (lodged_at_ms, row);
CREATE INDEX declarations_by_trader ON declarations (trader_credit_code, lodged_at_ms, row);
CREATE INDEX declarations_by_declarant ON declarations (declarant_credit_code, lodged_at_ms, row);
CREATE INDEX declarations_by_status ON declarations (status, lodged_at_ms, row);
-- Release times (lodging to release) of the declarations released in a period.
CREATE INDEX declarations_by_release ON declarations (released_at_ms) WHERE released_at_ms IS NOT NULL;

CREATE TABLE enterprises (
    id TEXT NOT NULL PRIMARY KEY,
    credit_code TEXT NOT NULL UNIQUE,
    customs_code TEXT NOT NULL,
    name TEXT NOT NULL
);

CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    enterprise_id TEXT REFERENCES enterprises (id)
);

-- The users of a role (the officers a task can be assigned to) are listed by id.
CREATE INDEX users_by_role ON users (role, id);

-- Only the SHA-256 of a bearer token is stored; a revoked token stays, so it is never reissued.
CREATE TABLE tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at_ms BIGINT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);

-- The principal enterprise authorised the broker enterprise to declare on its behalf.
CREATE TABLE broker_authorisations (
    broker_enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    principal_enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    PRIMARY KEY (broker_enterprise_id, principal_enterprise_id)
);

-- Numbering counters (declaration numbers and the like): the next serial not yet handed out.
CREATE TABLE counters (
    counter_key TEXT NOT NULL PRIMARY KEY,
    next_serial BIGINT NOT NULL
);

-- Signed statements of the chain head; they pin the chain against consistent rewrites.
CREATE TABLE checkpoints (
    seq INTEGER PRIMARY KEY,
    head_hash BLOB NOT NULL,
    signed_at_ms BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signature BLOB NOT NULL
);

-- Cross-border e-commerce (CBEC) retail purchases booked against a buyer's annual allowance
-- (26,000 CNY per person per calendar year). Money is integer fen. `buyer_id` is a hash of the
-- buyer's identity made by the caller; the ID-card number itself is never stored. Each row is
-- recorded by the audit-chain event `seq` (`cbec.purchase_booked`), written in the same
-- transaction, so the ledger is a projection of the chain. `year_to_date_fen` is the buyer's
-- total for the year including this purchase, as of its booking.
CREATE TABLE cbec_ledger (
    row INTEGER PRIMARY KEY,
    order_ref TEXT NOT NULL UNIQUE,
    buyer_id TEXT NOT NULL,
    year INTEGER NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    year_to_date_fen BIGINT NOT NULL,
    recorded_at_ms BIGINT NOT NULL,
    seq INTEGER NOT NULL
);

-- The year's total is summed from this index alone (it covers the amount).
CREATE INDEX cbec_ledger_by_buyer ON cbec_ledger (buyer_id, year, amount_fen);

-- Reference-data releases (tariff releases, exchange-rate tables) imported by an administrator,
-- and their state: `imported`, then `active` from `effective_from` (YYYY-MM-DD), possibly
-- `rolled_back` and active again. Each change is an audit-chain event: `imported_seq` the
-- import, `activated_seq` the latest activation, `rolled_back_seq` the roll-back since it (NULL
-- after a re-activation); the releases of a kind are listed in import (seq) order. A kind
-- holds a set of files once: `digest` (SHA-256 hex of the files, made by the caller) is unique
-- within it. `summary` is the caller's small JSON object of counts, kept as given.
CREATE TABLE releases (
    id TEXT NOT NULL PRIMARY KEY,
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

-- The files of a release, byte for byte, in the order given (`position` from 0). They are kept
-- here only: the importing event's payload carries their digest, not a second copy.
CREATE TABLE release_files (
    release_id TEXT NOT NULL REFERENCES releases (id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (release_id, position),
    UNIQUE (release_id, name)
);

-- Proofs of origin (certificates, declarations of origin) used by a declaration, keyed by the
-- caller (e.g. `RCEP:KR:KR-2026-0001`). The first declaration recorded keeps the key; `seq` is
-- the event that recorded it.
CREATE TABLE origin_proof_uses (
    proof_key TEXT NOT NULL PRIMARY KEY,
    declaration_id TEXT NOT NULL,
    seq BIGINT NOT NULL
);

-- Targeting rules (布控指令), one row per version; a version is never edited. `definition` is the
-- rule as the caller wrote it (JSON); the store does not interpret it. Four eyes: `approved_by`
-- is never `author` (checked when a version is approved). At most one version of an id is
-- `active`: approving a version supersedes the active one in the same transaction.
CREATE TABLE risk_rules (
    id TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
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

-- Enterprise credit levels (企业信用等级): one row per change, made by the event `seq`; the
-- latest row of a credit code is the level in force. Never updated, never deleted.
CREATE TABLE enterprise_credit (
    credit_code TEXT NOT NULL REFERENCES enterprises (credit_code),
    level TEXT NOT NULL CHECK (level IN ('advanced_certified', 'general_certified', 'general', 'untrustworthy')),
    since_ms BIGINT NOT NULL,
    seq BIGINT NOT NULL UNIQUE,
    PRIMARY KEY (credit_code, seq)
);

-- Labelled past goods items (history files such as the KCS data), byte for byte, for training
-- risk models. The importing event records the digest.
CREATE TABLE history_batches (
    id TEXT NOT NULL PRIMARY KEY,
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

-- The registry of risk models: `shadow` (scored and recorded, not acting), `active` (at most one:
-- it acts), `retired`. Bytes are kept here only; the registering event records their hash.
CREATE TABLE risk_models (
    id TEXT NOT NULL PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('shadow', 'active', 'retired')),
    source TEXT NOT NULL,
    author TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_seq BIGINT NOT NULL UNIQUE,
    promoted_by TEXT,
    promoted_seq BIGINT,
    ended_seq BIGINT,
    bytes BLOB NOT NULL
);
CREATE UNIQUE INDEX risk_models_one_active ON risk_models (status) WHERE status = 'active';

-- Photos and documents officers attach to their tasks (查验照片、单证), named by the SHA-256 of
-- their content, which the event `added_seq` records in the audit chain. Never updated.
CREATE TABLE task_attachments (
    task_id TEXT NOT NULL REFERENCES inspection_tasks (id),
    digest TEXT NOT NULL,
    file_name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    added_by TEXT NOT NULL,
    added_seq BIGINT NOT NULL UNIQUE,
    content BLOB NOT NULL,
    PRIMARY KEY (task_id, digest)
);

-- Officers' duty (值班): one row per change, made by the event `seq`; `office` is where the
-- officer went on duty, NULL when they went off duty. The latest row of an officer is their duty
-- in force. Never updated, never deleted.
CREATE TABLE officer_duty (
    officer TEXT NOT NULL REFERENCES users (id),
    office TEXT,
    since_ms BIGINT NOT NULL,
    seq BIGINT NOT NULL UNIQUE,
    PRIMARY KEY (officer, seq)
);
CREATE INDEX officer_duty_by_office ON officer_duty (office, officer);

-- The watch list (布控名单): parties and means of transport targeting selects when a declaration
-- names them. `kind` is importer, declarant, seller, consignor or transport_means; `action` what
-- a hit asks for; `valid_from` / `valid_to` inclusive YYYY-MM-DD or NULL (open). An entry is added
-- by the event `added_seq` and removed (never deleted) by the event `removed_seq`.
CREATE TABLE watch_entries (
    id TEXT NOT NULL PRIMARY KEY,
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
    removed_seq BIGINT
);

-- Officers' tasks on a declaration (单证审核 / 查验 / 取样 / 扣留), created from its lane:
-- `kind` is `document_check`, `physical_inspection`, `lab_sampling` or `hold`, `office` the
-- customs office, `assigned_to` the officer's user id. A task is created `open` by the event
-- `created_seq` and closed once, by the event `closed_seq`, with the caller's `outcome` (JSON,
-- kept as given; the store does not interpret it). Tasks are listed in creation (seq) order.
-- `declaration_id` and `assigned_to` declare no foreign keys (like `origin_proof_uses`): the
-- caller creates a task from a declaration's lane, and the store does not second-guess it.
CREATE TABLE inspection_tasks (
    id TEXT NOT NULL PRIMARY KEY,
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

-- A declaration's tasks; an officer's worklist (open tasks first of all); an office's tasks.
-- Each carries `created_seq` so its list is read in order, without a sort.
CREATE INDEX inspection_tasks_by_declaration ON inspection_tasks (declaration_id, created_seq);
CREATE INDEX inspection_tasks_by_assignee ON inspection_tasks (assigned_to, status, created_seq);
CREATE INDEX inspection_tasks_by_office ON inspection_tasks (office, status, created_seq);
