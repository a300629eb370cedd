-- Cross-instance cache invalidation: every event that may change what an instance caches
-- (tokens, users, broker authorisations, credit levels, releases, rules, the watch list, risk
-- models, and any kind not listed below) is announced on the channel `customs_changes`, its
-- payload the event's action. NOTIFY is transactional: the announcement is delivered when, and
-- only if, the append's transaction commits, whichever process or command made it.
--
-- The hot path's kinds (a lodging and everything linked to it, officers' work, payments) are
-- left out: nothing cached depends on them, and a commit that notifies takes a global lock in
-- PostgreSQL. Leaving out is by a list of kinds, so a new kind is announced until someone
-- decides it need not be.
CREATE FUNCTION customs_announce_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('customs_changes', NEW.action);
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_announce_change
AFTER INSERT ON events
FOR EACH ROW
WHEN (split_part(NEW.action, '.', 1) NOT IN (
    'declaration', 'task', 'cbec', 'payment', 'document', 'draft', 'modification', 'officer',
    'history'))
EXECUTE FUNCTION customs_announce_change();
