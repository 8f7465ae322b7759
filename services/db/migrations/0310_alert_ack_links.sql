-- The email acknowledgement link's token, hashed (services/alerts/ids.py ack_token_hash).
-- Stored so the API can check a link without holding the alert service's signing secret;
-- hashed, like a password-reset token, so a database reader cannot acknowledge for others.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS ack_token_hash text;
