-- ETA and viability forecasts, one row per emitted update (history).
CREATE TABLE eta (
    time                         timestamptz      NOT NULL,  -- event time of the update
    shipment_id                  text             NOT NULL,
    id                           text             NOT NULL,
    kind                         text             NOT NULL,
    eta                          timestamptz      NOT NULL,
    deliver_by                   timestamptz      NOT NULL,
    phase                        text             NOT NULL,
    leg_index                    integer          NOT NULL,
    leg_name                     text             NOT NULL,
    legs                         jsonb            NOT NULL,
    remaining_km                 double precision NOT NULL,
    temp_c                       double precision,
    viability_used_h             double precision NOT NULL,
    viability_remaining_at_eta_h double precision NOT NULL,
    viability_ends_at            timestamptz,
    at_risk                      boolean          NOT NULL,
    risk_reasons                 text[]           NOT NULL,
    risk_episode_id              text,
    PRIMARY KEY (shipment_id, time, id)
);
SELECT create_hypertable('eta', by_range('time', INTERVAL '7 days'));
