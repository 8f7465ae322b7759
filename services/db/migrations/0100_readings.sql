-- One row per stored reading; (device_id, time) identifies a reading, so a redelivered
-- or duplicated sample is stored once.
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE readings (
    time          timestamptz      NOT NULL,
    device_id     text             NOT NULL,
    shipment_id   text,
    seq           bigint,
    temp_c        double precision,
    humidity_pct  double precision,
    lat           double precision,
    lon           double precision,
    speed_kmh     double precision,
    battery_pct   double precision,
    source        text             NOT NULL DEFAULT 'json',
    received_at   timestamptz      NOT NULL,
    stored_at     timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT readings_device_time UNIQUE (device_id, time)
);
SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'));
CREATE INDEX readings_shipment_time ON readings (shipment_id, time DESC) WHERE shipment_id IS NOT NULL;

COMMENT ON TABLE readings IS 'One row per stored reading (coldchain contract section 4).';
COMMENT ON COLUMN readings.time IS 'The sample time reported by the device (UTC).';
COMMENT ON COLUMN readings.shipment_id IS 'The shipment the device was bound to at that time; NULL when unbound.';
COMMENT ON COLUMN readings.received_at IS 'When ingest received the MQTT message.';
