-- Partial returns (CEB625 listing some of a list's goods): an order may be credited back more
-- than once, each time a part of its booking, never more than the booking in all. The
-- credit-backs are keyed by the order and the event that wrote each; the rows are kept.
CREATE TABLE cbec_credit_backs_by_event (
    order_ref TEXT NOT NULL,
    buyer_id TEXT NOT NULL,
    year INTEGER NOT NULL,
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    seq INTEGER NOT NULL,
    PRIMARY KEY (order_ref, seq)
) STRICT;
INSERT INTO cbec_credit_backs_by_event (order_ref, buyer_id, year, amount_fen, seq)
    SELECT order_ref, buyer_id, year, amount_fen, seq FROM cbec_credit_backs;
DROP TABLE cbec_credit_backs;
ALTER TABLE cbec_credit_backs_by_event RENAME TO cbec_credit_backs;
CREATE INDEX cbec_credit_backs_by_buyer ON cbec_credit_backs (buyer_id, year, amount_fen);
