-- Job leases (issue 13 part 9): a running job is held by one process (lease_owner) until lease_until,
-- which that process keeps pushing forward while the Pixazo call runs. Once it lies in the past the
-- process is presumed dead and any claim, from any process sharing this database, may take it over.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until DOUBLE PRECISION;
-- The claim counts live leases (the cluster's bound) and looks for expired ones on every call.
CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE state = 'running';

-- Every process caches each server's /config rows (part 7). A change anywhere tells the others:
-- NOTIFY guild_config '<guild_id>' (delivered at COMMIT, so never for a change rolled back), and a
-- per-server version the processes poll when their listening connection is down. A trigger rather
-- than the store's methods, so no writer of guild_rules can forget it.
CREATE TABLE guild_config_versions (
    guild_id BIGINT PRIMARY KEY,
    version  BIGINT NOT NULL
);

CREATE FUNCTION guild_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    gid BIGINT;
BEGIN
    gid := CASE WHEN TG_OP = 'DELETE' THEN OLD.guild_id ELSE NEW.guild_id END;
    INSERT INTO guild_config_versions (guild_id, version) VALUES (gid, 1)
        ON CONFLICT (guild_id) DO UPDATE SET version = guild_config_versions.version + 1;
    PERFORM pg_notify('guild_config', gid::text);
    RETURN NULL;
END $$;

CREATE TRIGGER guild_rules_changed AFTER INSERT OR UPDATE OR DELETE ON guild_rules
    FOR EACH ROW EXECUTE FUNCTION guild_config_changed();
