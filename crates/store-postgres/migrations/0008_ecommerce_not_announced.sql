-- The e-commerce flow (issue 15) is a hot path too: CEB messages, inventory-list states and
-- guarantee movements change nothing an instance caches, and announcing each (a commit that
-- notifies takes a global lock in PostgreSQL) cost every CEB message; before this, every other
-- instance that heard one emptied all its caches. The CEB register's changes (an enterprise's
-- roles, its certificate in force) are still announced: instances keep the register in memory.
DROP TRIGGER events_announce_change ON events;

CREATE TRIGGER events_announce_change
AFTER INSERT ON events
FOR EACH ROW
WHEN (split_part(NEW.action, '.', 1) NOT IN (
    'declaration', 'task', 'cbec', 'payment', 'document', 'draft', 'modification', 'officer',
    'history', 'guarantee')
  AND (split_part(NEW.action, '.', 1) <> 'ceb'
       OR NEW.action IN ('ceb.enterprise_registered', 'ceb.certificate_added')))
EXECUTE FUNCTION customs_announce_change();
