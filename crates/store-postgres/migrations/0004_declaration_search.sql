-- Search keys of each declaration's document in force (issue 14), as SQLite's 0008: its bill of
-- lading (提运单号), containers, invoice number, every item's commodity code and the trader's
-- name, read from the document its `document_seq` event (by the event's global `row`) carries.
-- Written by the projection of a lodging or an amendment in the same transaction.
CREATE TABLE declaration_search (
    declaration_row BIGINT NOT NULL REFERENCES declarations (row),
    -- bill_of_lading, container, invoice, commodity_code or trader_name.
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, value, declaration_row)
);

-- An amendment deletes the declaration's keys before writing the new ones.
CREATE INDEX declaration_search_by_declaration ON declaration_search (declaration_row);

-- The declarations stored before this migration become searchable: the same keys, read from the
-- same documents, as the projection writes.
INSERT INTO declaration_search (declaration_row, kind, value)
SELECT d.row, k.kind, k.value
  FROM declarations d
  JOIN events e ON e.row = d.document_seq
  CROSS JOIN LATERAL (SELECT e.payload::jsonb -> 'declaration' AS doc) p
  CROSS JOIN LATERAL (
      SELECT 'bill_of_lading' AS kind, p.doc #>> '{transport,document,number}' AS value
      UNION ALL SELECT 'invoice', p.doc #>> '{invoice,number}'
      UNION ALL SELECT 'trader_name', p.doc #>> '{trader,name}'
      UNION ALL SELECT 'commodity_code', i ->> 'commodity_code'
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p.doc -> 'items') = 'array'
                                       THEN p.doc -> 'items' ELSE '[]'::jsonb END) i
      UNION ALL SELECT 'container', c
        FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(p.doc #> '{transport,containers}') = 'array'
                                            THEN p.doc #> '{transport,containers}' ELSE '[]'::jsonb END) c
  ) k
 WHERE k.value IS NOT NULL AND k.value <> ''
ON CONFLICT DO NOTHING;
