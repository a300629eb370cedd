-- Four eyes on the watch list (issue 10): an entry is proposed by one analyst and acts only once
-- another approves it; taking an entry in force off the list is requested by one analyst and
-- approved by another. A proposal is withdrawn at once (it never acted).
ALTER TABLE watch_entries ADD COLUMN approved_by TEXT;
ALTER TABLE watch_entries ADD COLUMN approved_seq BIGINT;
ALTER TABLE watch_entries ADD COLUMN removal_requested_by TEXT;
ALTER TABLE watch_entries ADD COLUMN removal_requested_seq BIGINT;
ALTER TABLE watch_entries ADD COLUMN removed_by TEXT;

-- Entries added before four eyes stay in force as they were: approved by the event that added
-- them, by nobody else (approved_by stays NULL, so the record does not claim a second analyst).
UPDATE watch_entries SET approved_seq = added_seq;
