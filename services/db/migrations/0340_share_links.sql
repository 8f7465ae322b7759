-- Links that open one shipment's page for one recipient, without a login (issue 20).
-- An alert delivery gets one (its token derived from the delivery id with the alert service's
-- secret, so a retried email carries the same link); ops and exporters make more by hand.
-- Only the token's SHA-256 is stored: a database reader cannot open or act on a link.
CREATE TABLE share_links (
    id           text PRIMARY KEY,
    token_hash   text        NOT NULL UNIQUE,
    shipment_id  text        NOT NULL,
    party        text        NOT NULL CHECK (party IN ('seller', 'buyer', 'ops')),
    recipient    text,                 -- the address the link was sent to, when it was sent
    channel      text,                 -- email, sms, ...: how it reached the recipient
    alert_id     text,                 -- the alert this link can acknowledge
    delivery_id  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text        NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX share_links_shipment ON share_links (shipment_id);
-- Audited from 0600 on (the audit log comes after the alert tables).
