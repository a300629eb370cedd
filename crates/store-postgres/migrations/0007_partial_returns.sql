-- Partial returns (CEB625 listing some of a list's goods): an order may be credited back more
-- than once, each time a part of its booking, never more than the booking in all. The
-- credit-backs are keyed by the order and the event that wrote each; the rows are kept.
ALTER TABLE cbec_credit_backs DROP CONSTRAINT cbec_credit_backs_pkey;
ALTER TABLE cbec_credit_backs ADD PRIMARY KEY (order_ref, seq);
