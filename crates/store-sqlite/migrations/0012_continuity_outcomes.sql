-- Declarations received in continuity (issue 13) are those a `continuity.reconciled` event names:
-- the officers' listing filter and the dashboards' count per office read only those events.
CREATE INDEX events_continuity_reconciled ON events (subject) WHERE action = 'continuity.reconciled';
