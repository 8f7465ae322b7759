-- Least-privilege roles per service (services/db/roles.py grants them after every migration).
--
-- The audit triggers write audit_log as the owner, so the roles that change audited tables
-- (the API's registry, the alert service's share links, retention's seals) need no right on
-- audit_log themselves; their search path is fixed, with pg_temp last, so that no temporary
-- table of a session can stand in for audit_log.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION audit_row_change() SECURITY DEFINER SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION audit_alert_ack() SECURITY DEFINER SET search_path = %I, pg_temp',
                   current_schema());
END $$;

-- drop_chunks and compression need the hypertable's owner: retention calls these instead,
-- for the retained tables only (services/retention/store.py).
CREATE FUNCTION coldchain_drop_chunks(hypertable regclass, older_than timestamptz) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF hypertable NOT IN ('readings'::regclass, 'reading_chain'::regclass, 'eta'::regclass) THEN
        RAISE EXCEPTION 'coldchain_drop_chunks: % is not a retained table', hypertable
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN (SELECT count(*) FROM drop_chunks(hypertable, older_than => older_than));
END $$;

CREATE FUNCTION coldchain_compress_readings(older_than timestamptz) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id',
                              timescaledb.compress_orderby = 'time');
    RETURN (SELECT count(compress_chunk(c, if_not_compressed => true))
            FROM show_chunks('readings', older_than => older_than) AS c);
END $$;

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION coldchain_drop_chunks(regclass, timestamptz) SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION coldchain_compress_readings(timestamptz) SET search_path = %I, pg_temp',
                   current_schema());
END $$;
REVOKE EXECUTE ON FUNCTION coldchain_drop_chunks(regclass, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION coldchain_compress_readings(timestamptz) FROM PUBLIC;
