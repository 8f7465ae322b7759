-- Sealed history (issue 18): a shipment's record is closed some time after it ended. From then
-- on ingest refuses readings whose time falls into it (they go to the dead letters with the
-- reason), and `coldchain verify` checks each device's chain at the shipment's last reading
-- against the hash recorded here at sealing, so nothing can be linked into it afterwards.
ALTER TABLE shipments ADD COLUMN sealed_at timestamptz;
-- A copy where ingest's binding cache reads it; its NOTIFY trigger tells ingest at once.
ALTER TABLE shipment_devices ADD COLUMN sealed_at timestamptz;

CREATE TABLE shipment_seals (
    shipment_id text        NOT NULL,
    device_id   text        NOT NULL,
    sealed_at   timestamptz NOT NULL,
    last_time   timestamptz,           -- the device's last reading in the shipment (NULL: none)
    head        bytea,                 -- the device's chain hash at that reading
    PRIMARY KEY (shipment_id, device_id)
);
CREATE TRIGGER shipment_seals_audit AFTER INSERT OR UPDATE OR DELETE ON shipment_seals
    FOR EACH ROW EXECUTE FUNCTION audit_row_change('shipment_id');
-- A seal is for good: it cannot be changed or removed, not even by the sink's role.
CREATE FUNCTION shipment_seals_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'shipment seals cannot be changed or removed';
END $$;
CREATE TRIGGER shipment_seals_final BEFORE UPDATE OR DELETE ON shipment_seals
    FOR EACH ROW EXECUTE FUNCTION shipment_seals_refuse_change();
