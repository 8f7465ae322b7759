"""The JSON body of a webhook delivery: pure, from the alert and who it is for.

``{"type": "coldchain.alert", "delivery_id", "recipient": {"role", "name"}, "alert": {...},
"links": {"shipment", "acknowledge"}}``: ``alert`` is the stored alert as the API's
``/alerts`` lists it (schemas/alert.py ``Alert``: kind, step, severity, event time, figures,
found late); ``links.shipment`` is the recipient's own page of the shipment (a share link
of this delivery: no login, read-only, expiring), ``links.acknowledge`` its acknowledgement
page while the alert wants acknowledging, where acknowledging takes a deliberate POST.

The body is built the same on every attempt, so a retried delivery is byte-identical (its
timestamp header and signature are new).
"""

from __future__ import annotations

import json
from typing import Any

from schemas.alert import Alert, Role
from services.alerts.formatting import LinkConfig, ack_url, shipment_url, wants_ack

EVENT_TYPE = "coldchain.alert"


def webhook_body(alert: Alert, delivery_id: str, role: Role, recipient_name: str, links: LinkConfig) -> bytes:
    # Internal bookkeeping of the outbox, not news for a receiver.
    shown = alert.model_dump(mode="json", exclude={"suppressed", "hold_until", "version"})
    # The recipient's own page, as its email or SMS would carry (a share link per delivery).
    link_map = {"shipment": shipment_url(delivery_id, links)}
    if wants_ack(alert):
        link_map["acknowledge"] = ack_url(delivery_id, links)
    payload: dict[str, Any] = {
        "type": EVENT_TYPE,
        "delivery_id": delivery_id,
        "recipient": {"role": role, "name": recipient_name},
        "alert": shown,
        "links": link_map,
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
