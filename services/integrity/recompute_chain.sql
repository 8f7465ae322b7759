-- Recomputes one device's readings hash chain with nothing but PostgreSQL, and compares it
-- with the hashes stored with the readings (README "Auditors"). Run with:
--   psql "$DATABASE_URL" -v device=TRK-0001 -f services/integrity/recompute_chain.sql
-- Every row should say `same`; the first `DIFFERS` is the first reading changed since it
-- was stored, or the one after a deleted reading. (Quadratic in the number of readings:
-- fine for one shipment's device. After retention dropped old chunks, start from
-- reading_chain_anchors.hash instead.)
WITH RECURSIVE record AS (
    SELECT row_number() OVER (ORDER BY time) AS n, time, chain_hash,
           '\x01'::bytea || int8send((extract(epoch FROM time) * 1000000)::bigint)
        || '\x01'::bytea || int4send(octet_length(convert_to(device_id, 'UTF8'))) || convert_to(device_id, 'UTF8')
        || coalesce('\x01'::bytea || int4send(octet_length(convert_to(shipment_id, 'UTF8')))
                    || convert_to(shipment_id, 'UTF8'), '\x00'::bytea)
        || coalesce('\x01'::bytea || int8send(seq), '\x00'::bytea)
        || coalesce('\x01'::bytea || float8send(temp_c), '\x00'::bytea)
        || coalesce('\x01'::bytea || float8send(humidity_pct), '\x00'::bytea)
        || coalesce('\x01'::bytea || float8send(lat), '\x00'::bytea)
        || coalesce('\x01'::bytea || float8send(lon), '\x00'::bytea)
        || coalesce('\x01'::bytea || float8send(speed_kmh), '\x00'::bytea)
        || coalesce('\x01'::bytea || float8send(battery_pct), '\x00'::bytea) AS bytes
    FROM readings WHERE device_id = :'device'
), chain AS (
    SELECT n, time, chain_hash AS stored,
           sha256(sha256(convert_to('coldchain-chain-v1:' || :'device', 'UTF8')) || bytes) AS hash
    FROM record WHERE n = 1
    UNION ALL
    SELECT record.n, record.time, record.chain_hash, sha256(chain.hash || record.bytes)
    FROM chain JOIN record ON record.n = chain.n + 1
)
SELECT chain.time, encode(chain.hash, 'hex') AS recomputed,
       CASE WHEN chain.hash = chain.stored THEN 'same' ELSE 'DIFFERS' END AS verdict
FROM chain
ORDER BY chain.time;
