-- The open tasks alone, by office and age: what the metrics (open and overdue tasks per office)
-- and the dashboards count. A partial index holds only open tasks, so counting them costs what
-- is open, never what was ever closed, and the count reads the index without the table.
CREATE INDEX inspection_tasks_open_by_office ON inspection_tasks (office, created_at_ms)
    WHERE status = 'open';
