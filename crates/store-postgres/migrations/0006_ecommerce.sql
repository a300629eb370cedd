-- The same tables as the SQLite store's 0010_ecommerce.sql, in PostgreSQL's types.
-- Cross-border e-commerce (issue 15): the CEB documents received, the inventory lists' state,
-- the agents' tax guarantees (担保) and their movements, the buyers' allowance credited back,
-- and the enterprises registered for CEB roles with their signing certificates. Every row is
-- a projection of an event (the projection check rebuilds and compares them all); `*_seq` is
-- the event that made or last changed the row.

-- Every version of every document, never edited: the latest per kind and key is in force.
CREATE TABLE ceb_documents (
    guid TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    app_type SMALLINT NOT NULL CHECK (app_type IN (1, 2, 3)),
    sender_code TEXT NOT NULL,
    ebp_code TEXT,
    order_no TEXT,
    logistics_code TEXT,
    logistics_no TEXT,
    document TEXT NOT NULL,
    message_digest TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    recorded_seq BIGINT NOT NULL
);
CREATE INDEX ceb_documents_by_order ON ceb_documents (ebp_code, order_no, kind, recorded_seq);
CREATE INDEX ceb_documents_by_waybill
    ON ceb_documents (logistics_code, logistics_no, kind, recorded_seq);

CREATE TABLE inventory_lists (
    id TEXT NOT NULL PRIMARY KEY,
    ebp_code TEXT NOT NULL,
    order_no TEXT NOT NULL,
    logistics_code TEXT NOT NULL,
    logistics_no TEXT NOT NULL,
    agent_code TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('waiting', 'accepted', 'refused', 'cancelled', 'returned')),
    deadline_ms BIGINT NOT NULL,
    declaration_id TEXT,
    reason TEXT,
    created_seq BIGINT NOT NULL,
    status_seq BIGINT NOT NULL
);
-- The sweep and the matching read the waiting lists only.
CREATE INDEX inventory_lists_waiting_by_deadline ON inventory_lists (deadline_ms)
    WHERE status = 'waiting';
CREATE INDEX inventory_lists_waiting_by_order ON inventory_lists (ebp_code, order_no)
    WHERE status = 'waiting';
CREATE INDEX inventory_lists_waiting_by_waybill ON inventory_lists (logistics_code, logistics_no)
    WHERE status = 'waiting';

-- The balance is kept on the guarantee (checked and changed in the writer's transaction); the
-- movements are the ledger it is the sum of.
CREATE TABLE guarantees (
    assure_code TEXT NOT NULL PRIMARY KEY,
    agent_code TEXT NOT NULL,
    balance_fen BIGINT NOT NULL CHECK (balance_fen >= 0),
    registered_seq BIGINT NOT NULL,
    changed_seq BIGINT NOT NULL
);

CREATE TABLE guarantee_movements (
    seq BIGINT PRIMARY KEY,
    assure_code TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('registered', 'top_up', 'debit', 'release')),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    debit_ref TEXT,
    balance_after_fen BIGINT NOT NULL CHECK (balance_after_fen >= 0)
);
-- One debit per reference per guarantee, released at most once.
CREATE UNIQUE INDEX guarantee_movements_one_per_debit
    ON guarantee_movements (assure_code, debit_ref, kind) WHERE debit_ref IS NOT NULL;

-- A cancelled or returned order's amount, credited back to the buyer's year: the booking in
-- `cbec_ledger` is never edited; the year's total is its sum less these.
CREATE TABLE cbec_credit_backs (
    order_ref TEXT NOT NULL PRIMARY KEY,
    buyer_id TEXT NOT NULL,
    year INTEGER NOT NULL,
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    seq BIGINT NOT NULL
);
CREATE INDEX cbec_credit_backs_by_buyer ON cbec_credit_backs (buyer_id, year, amount_fen);

-- `id` is the customs code if the enterprise has one, else its credit code.
CREATE TABLE ceb_enterprises (
    id TEXT NOT NULL PRIMARY KEY,
    customs_code TEXT UNIQUE,
    credit_code TEXT UNIQUE,
    name TEXT NOT NULL,
    registered_seq BIGINT NOT NULL
);

CREATE TABLE ceb_enterprise_roles (
    enterprise_id TEXT NOT NULL,
    role TEXT NOT NULL,
    granted_seq BIGINT NOT NULL,
    PRIMARY KEY (enterprise_id, role)
);

CREATE TABLE ceb_certificates (
    enterprise_id TEXT NOT NULL,
    serial_number TEXT NOT NULL,
    der BYTEA NOT NULL,
    added_seq BIGINT NOT NULL,
    PRIMARY KEY (enterprise_id, serial_number)
);
