-- Excursions as the excursion processor last described them. One row per excursion id;
-- a later revision replaces an earlier one, never the other way round.
CREATE TABLE excursions (
    id                   text PRIMARY KEY,
    shipment_id          text        NOT NULL,
    device_id            text        NOT NULL,
    kind                 text        NOT NULL,
    severity             text        NOT NULL,
    status               text        NOT NULL CHECK (status IN ('open', 'closed', 'retracted')),
    started_at           timestamptz NOT NULL,
    ended_at             timestamptz,
    duration_min         double precision,
    peak_c               double precision,
    degree_minutes       double precision,
    peak_humidity_pct    double precision,
    humidity_pct_minutes double precision,
    profile              text,
    limits               jsonb,
    revision             integer     NOT NULL,
    last_step            text        NOT NULL,
    superseded_by        text,
    found_late           boolean     NOT NULL DEFAULT false,
    shipment_mkt_c       double precision,
    updated_at           timestamptz NOT NULL  -- device time of the reading behind the last step
);
CREATE INDEX excursions_shipment ON excursions (shipment_id, started_at);

COMMENT ON TABLE excursions IS 'Temperature, humidity and silence excursions per device; status retracted = replaced by a re-scored excursion (see superseded_by).';
