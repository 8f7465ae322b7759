-- Tamper evidence for readings (README "Auditors"): a SHA-256 hash chain per device over its
-- readings in time order, kept beside them. The sink extends it in the same transaction
-- as the readings it writes (services/integrity/chain.py defines the record and the link).
CREATE TABLE reading_chain (
    device_id  text        NOT NULL,
    time       timestamptz NOT NULL,
    hash       bytea       NOT NULL,  -- sha256(previous hash || record of this reading)
    CONSTRAINT reading_chain_device_time UNIQUE (device_id, time)
);
-- Same chunking as readings, so retention drops the same days from both.
SELECT create_hypertable('reading_chain', by_range('time', INTERVAL '1 day'));

-- When retention drops old chunks, the chain of each device continues from the hash of the
-- last dropped reading, kept here, instead of from the genesis hash.
CREATE TABLE reading_chain_anchors (
    device_id  text PRIMARY KEY,
    time       timestamptz NOT NULL,  -- the last dropped reading's time
    hash       bytea       NOT NULL,  -- its chain hash: the "previous hash" of what survives
    dropped_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE reading_chain IS 'Per-device SHA-256 hash chain over readings in time order (README, Auditors).';
COMMENT ON TABLE reading_chain_anchors IS 'Chain hash of the last reading dropped by retention, per device.';
