-- Alert outbox (contract section 3): alerts raised, and one row per (alert, recipient,
-- channel) delivery. Ordinary tables: few rows, updated in place, read by primary key.
-- Ids are deterministic hashes (services/alerts/ids.py), so inserts use
-- ON CONFLICT DO NOTHING and a redelivered event changes nothing.

CREATE TABLE IF NOT EXISTS alerts (
    id               text        PRIMARY KEY,          -- hash(trigger_id, step)
    trigger_id       text        NOT NULL,             -- excursion id, or at-risk episode id
    step             text        NOT NULL CHECK (step IN ('opened', 'escalated', 'closed')),
    shipment_id      text        NOT NULL,
    kind             text        NOT NULL,
    severity         text        NOT NULL CHECK (severity IN ('warning', 'critical')),
    event_time       timestamptz NOT NULL,             -- event time of the step
    raised_at        timestamptz NOT NULL,             -- when the service raised it
    suppressed       text,                             -- why no one is told (flapping), or null
    body             jsonb       NOT NULL,             -- the schemas.alert.Alert, as sent
    ack_code         text        NOT NULL,             -- short code people reply by SMS
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    escalated_at     timestamptz,                      -- when ops were brought in
    UNIQUE (trigger_id, step)
);

CREATE INDEX IF NOT EXISTS alerts_shipment_idx ON alerts (shipment_id, event_time DESC);
CREATE INDEX IF NOT EXISTS alerts_ack_code_idx ON alerts (ack_code) WHERE acknowledged_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_escalation_idx ON alerts (raised_at)
    WHERE severity = 'critical' AND acknowledged_at IS NULL AND escalated_at IS NULL
      AND suppressed IS NULL AND step <> 'closed';

CREATE TABLE IF NOT EXISTS alert_deliveries (
    id               text        PRIMARY KEY,          -- hash(alert_id, address, channel)
    alert_id         text        NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    role             text        NOT NULL CHECK (role IN ('seller', 'buyer', 'ops')),
    channel          text        NOT NULL CHECK (channel IN ('email', 'sms')),
    address          text        NOT NULL,             -- email address or +E164 number
    recipient_name   text        NOT NULL,
    timezone         text,                             -- the recipient's, for local times
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,             -- deferred past quiet hours, or backoff
    claim_token      text,                             -- the dispatcher run holding 'sending'
    claimed_until    timestamptz,                      -- a crashed claim is retaken after this
    last_error       text,
    provider_ref     text,                             -- Message-ID, Twilio SID, gateway id
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    -- Acknowledgement is per alert (alerts.acknowledged_*); these record which delivery
    -- the person acknowledged from, when known.
    acknowledged_at  timestamptz,
    acknowledged_by  text
);

CREATE INDEX IF NOT EXISTS alert_deliveries_due_idx ON alert_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS alert_deliveries_lease_idx ON alert_deliveries (claimed_until)
    WHERE status = 'sending';
CREATE INDEX IF NOT EXISTS alert_deliveries_alert_idx ON alert_deliveries (alert_id);

-- The pure policy's per-shipment memory (services/alerts/policy.py AlertState), updated in
-- the same transaction as the alerts it produced, so a restart neither repeats nor forgets.
CREATE TABLE IF NOT EXISTS alert_policy_state (
    shipment_id  text        PRIMARY KEY,
    state        jsonb       NOT NULL,
    updated_at   timestamptz NOT NULL
);
