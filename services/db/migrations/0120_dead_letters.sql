-- Payloads ingest refused, with the original bytes and the precise reason.
CREATE TABLE dead_letters (
    id           text PRIMARY KEY,
    received_at  timestamptz NOT NULL,
    mqtt_topic   text        NOT NULL,
    device_id    text,
    reason       text        NOT NULL,
    errors       jsonb       NOT NULL,
    payload      bytea       NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_received ON dead_letters (received_at DESC);
