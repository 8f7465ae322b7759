-- Webhook deliveries (services/alerts/channels/webhook.py): a third channel, and the name
-- of the secret that signs a delivery (a key of COLDCHAIN_WEBHOOK_SECRETS, or
-- '@deployment' for COLDCHAIN_WEBHOOK_SECRET). The secret itself is never stored.
-- Numbered with the other alert-outbox migrations (03xx), after every one applied.
ALTER TABLE alert_deliveries DROP CONSTRAINT IF EXISTS alert_deliveries_channel_check;
ALTER TABLE alert_deliveries ADD CONSTRAINT alert_deliveries_channel_check
    CHECK (channel IN ('email', 'sms', 'webhook'));
ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS secret_ref text;
ALTER TABLE alert_deliveries ADD CONSTRAINT alert_deliveries_secret_ref_check
    CHECK (secret_ref IS NULL OR channel = 'webhook');
