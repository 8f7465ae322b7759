-- What each delivery was planned and sent with (services/alerts/policy.py PlannedDelivery,
-- dispatcher.py): the time it may go (deferred past the recipient's quiet hours when later
-- than created_at; next_attempt_at moves on with retries), where the recipient's zone came
-- from, the language it is written for, and, for a sent SMS, its encoding and segments.
ALTER TABLE alert_deliveries
    ADD COLUMN IF NOT EXISTS not_before      timestamptz,
    ADD COLUMN IF NOT EXISTS timezone_source text
        CHECK (timezone_source IN ('given', 'phone', 'place', 'default')),
    ADD COLUMN IF NOT EXISTS language        text,
    ADD COLUMN IF NOT EXISTS sms_encoding    text CHECK (sms_encoding IN ('GSM-7', 'UCS-2')),
    ADD COLUMN IF NOT EXISTS sms_segments    integer CHECK (sms_segments >= 1);

-- Deliveries never tried still hold their planned time in next_attempt_at.
UPDATE alert_deliveries SET not_before = next_attempt_at WHERE not_before IS NULL AND attempts = 0;
