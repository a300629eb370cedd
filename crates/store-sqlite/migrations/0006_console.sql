-- The console's drafts (暂存) and the supporting documents (随附单证) lodged with declarations.

-- A draft declaration form of an enterprise, as the form held it (not checked). Deleted when
-- discarded; the events keep its history.
CREATE TABLE console_drafts (
    id            TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    saved_by      TEXT NOT NULL,
    saved_seq     INTEGER NOT NULL
);
CREATE INDEX console_drafts_by_enterprise ON console_drafts (enterprise_id, saved_seq);

-- A declaration's supporting documents, each named by the SHA-256 of its content (recorded in
-- the chain); the content is kept once, here.
CREATE TABLE declaration_documents (
    declaration_id TEXT NOT NULL,
    digest         TEXT NOT NULL,
    kind           TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    size           INTEGER NOT NULL,
    added_by       TEXT NOT NULL,
    added_seq      INTEGER NOT NULL,
    content        BLOB NOT NULL,
    PRIMARY KEY (declaration_id, digest)
);
