-- The hash chain moves into readings: each reading keeps its own chain hash (issue 22).
-- A separate reading_chain table cost every stored reading a second row, a second unique
-- index entry and their WAL: in a landing burst about a third of the sink's write time. The
-- chain itself is unchanged (services/integrity/chain.py); what verification walks is now one
-- table, in time order, each row checked against the one before it.
ALTER TABLE readings ADD COLUMN chain_hash bytea;
COMMENT ON COLUMN readings.chain_hash IS
    'sha256(previous reading''s chain_hash || record of this reading); NULL: not linked by the sink (README, Auditors).';

UPDATE readings r SET chain_hash = c.hash
FROM reading_chain c WHERE c.device_id = r.device_id AND c.time = r.time;

-- A link whose reading is gone is the evidence of a deletion: kept in the append-only audit
-- log, where `coldchain verify` reports it, before its table goes.
INSERT INTO audit_log (actor, action, table_name, row_key, old, new)
SELECT 'migration', 'chain-break', 'readings',
       c.device_id || '@' || to_char(c.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
       jsonb_build_object('stored_hash', encode(c.hash, 'hex')),
       jsonb_build_object('computed_hash', '', 'description',
                          'reading ' || c.device_id || ' at ' || c.time::text
                          || ' was in the hash chain but missing from readings (deleted?)')
FROM reading_chain c
WHERE NOT EXISTS (SELECT 1 FROM readings r WHERE r.device_id = c.device_id AND r.time = c.time);

DROP TABLE reading_chain;

CREATE OR REPLACE FUNCTION coldchain_drop_chunks(hypertable regclass, older_than timestamptz) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF hypertable NOT IN ('readings'::regclass, 'eta'::regclass) THEN
        RAISE EXCEPTION 'coldchain_drop_chunks: % is not a retained table', hypertable
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN (SELECT count(*) FROM drop_chunks(hypertable, older_than => older_than));
END $$;
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION coldchain_drop_chunks(regclass, timestamptz) SET search_path = %I, pg_temp',
                   current_schema());
END $$;
