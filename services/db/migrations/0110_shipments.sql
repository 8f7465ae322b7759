-- The shipment registry. `body` keeps the registration exactly as accepted.
CREATE TABLE shipments (
    id          text PRIMARY KEY,
    product     text        NOT NULL,
    packed_at   timestamptz NOT NULL,
    deliver_by  timestamptz NOT NULL,
    seller_name text        NOT NULL,
    buyer_name  text        NOT NULL,
    body        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Which device reports for which shipment. A tracker can be reused: a reading belongs to
-- the latest shipment packed at or before the reading's time.
CREATE TABLE shipment_devices (
    shipment_id text NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
    device_id   text NOT NULL,
    packed_at   timestamptz NOT NULL,
    PRIMARY KEY (shipment_id, device_id)
);
CREATE INDEX shipment_devices_device ON shipment_devices (device_id, packed_at DESC);

-- Ingest listens on this channel to refresh its device binding cache at once.
CREATE FUNCTION notify_shipment_devices() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('coldchain_bindings', coalesce(NEW.device_id, OLD.device_id));
    RETURN NULL;
END $$;
CREATE TRIGGER shipment_devices_changed AFTER INSERT OR UPDATE OR DELETE ON shipment_devices
    FOR EACH ROW EXECUTE FUNCTION notify_shipment_devices();
