-- Search keys of each declaration's document in force (issue 14): its bill of lading (提运单号),
-- containers, invoice number, every item's commodity code and the trader's name, read from the
-- document its `document_seq` event carries. Written by the projection of a lodging or an
-- amendment in the same transaction (an amendment replaces the declaration's keys), so a search
-- finds what the document says now. `customs search` and `GET /v1/declarations?...` read it.
CREATE TABLE declaration_search (
    declaration_row INTEGER NOT NULL REFERENCES declarations (row),
    -- bill_of_lading, container, invoice, commodity_code or trader_name.
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, value, declaration_row)
) WITHOUT ROWID;

-- An amendment deletes the declaration's keys before writing the new ones.
CREATE INDEX declaration_search_by_declaration ON declaration_search (declaration_row);

-- The declarations stored before this migration become searchable: the same keys, read from the
-- same documents, as the projection writes.
INSERT OR IGNORE INTO declaration_search (declaration_row, kind, value)
SELECT declaration_row, kind, value FROM (
    SELECT d.row AS declaration_row, 'bill_of_lading' AS kind,
           json_extract(e.payload, '$.declaration.transport.document.number') AS value
      FROM declarations d JOIN events e ON e.seq = d.document_seq
    UNION ALL
    SELECT d.row, 'invoice', json_extract(e.payload, '$.declaration.invoice.number')
      FROM declarations d JOIN events e ON e.seq = d.document_seq
    UNION ALL
    SELECT d.row, 'trader_name', json_extract(e.payload, '$.declaration.trader.name')
      FROM declarations d JOIN events e ON e.seq = d.document_seq
    UNION ALL
    SELECT d.row, 'commodity_code', json_extract(i.value, '$.commodity_code')
      FROM declarations d JOIN events e ON e.seq = d.document_seq,
           json_each(e.payload, '$.declaration.items') i
    UNION ALL
    SELECT d.row, 'container', c.value
      FROM declarations d JOIN events e ON e.seq = d.document_seq,
           json_each(e.payload, '$.declaration.transport.containers') c
)
WHERE typeof(value) = 'text' AND value <> '';
