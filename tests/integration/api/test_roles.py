"""Every role against the real API process: ops writes, auditors read, exporters see their own."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.api.tokens import create_token
from tests.integration.conftest import Pipeline, shipment_body

READ_PATHS = ("", "/readings", "/readings?format=csv", "/excursions", "/alerts")


@pytest.fixture(scope="module")
def parties(pipeline: Pipeline, stack) -> dict[str, str]:
    """Two shipments of two different sellers, and a token per role."""
    suffix = uuid.uuid4().hex[:8]
    ours, theirs = f"SHP-ROLE-OURS-{suffix}", f"SHP-ROLE-THEIRS-{suffix}"
    seller = f"Shediac Lobster Co. {suffix}"
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=shipment_body(
            ours, [f"TRK-RO-{suffix}"],
            seller={"name": seller, "email": "ops@seller.example", "phone": "+19025550100"})).status_code == 201
        assert http.post("/api/v1/shipments", json=shipment_body(theirs, [f"TRK-RT-{suffix}"])).status_code == 201
    return {
        "ours": ours, "theirs": theirs, "seller": seller,
        "auditor": create_token(stack.database_url, "auditor", None),
        "exporter": create_token(stack.database_url, "exporter", seller),
    }


def test_ops_registers_and_is_told_what_is_wrong(pipeline, unique):
    shipment_id = unique("SHP-OPS")
    with pipeline.http() as http:
        created = http.post("/api/v1/shipments", json=shipment_body(shipment_id, ["TRK-OPS"]))
        assert created.status_code == 201 and created.headers["location"] == f"/api/v1/shipments/{shipment_id}"
        again = http.post("/api/v1/shipments", json=shipment_body(shipment_id, ["TRK-OPS"]))
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
        problem = again.json()
        assert problem["status"] == 409 and problem["title"] == "Conflict" and shipment_id in problem["detail"]
        bad = shipment_body(unique("SHP-BAD"), ["not a device id!"])
        del bad["deliver_by"]
        refused = http.post("/api/v1/shipments", json=bad)
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
        fields = {tuple(error["loc"]) for error in refused.json()["errors"]}
        assert ("body", "deliver_by") in fields and ("body", "devices", 0) in fields
        assert http.get(f"/api/v1/shipments/{shipment_id}").json()["shipment"]["id"] == shipment_id
        missing = http.get("/api/v1/shipments/SHP-NO-SUCH-ONE")
        assert missing.status_code == 404 and missing.json()["type"] == "about:blank"
        assert missing.json()["instance"] == "/api/v1/shipments/SHP-NO-SUCH-ONE"


def test_auditor_reads_everything_and_writes_nothing(pipeline, parties, unique):
    with pipeline.http(parties["auditor"]) as http:
        for shipment_id in (parties["ours"], parties["theirs"]):
            for path in READ_PATHS:
                assert http.get(f"/api/v1/shipments/{shipment_id}{path}").status_code == 200, path
            assert http.get(f"/api/v1/fleet/{shipment_id}").status_code == 200
        listed = {s["id"] for s in http.get("/api/v1/shipments", params={"limit": 1000}).json()}
        assert {parties["ours"], parties["theirs"]} <= listed
        assert http.get("/api/v1/deadletters").status_code == 200
        write = http.post("/api/v1/shipments", json=shipment_body(unique("SHP-AUD"), ["TRK-AUD"]))
        assert write.status_code == 403
        assert http.post("/api/v1/alerts/alert-of-nobody/ack").status_code == 403
        assert http.post("/api/v1/sms/inbound", json={"from": "+19025550100", "body": "ACK 1234"}).status_code == 403
    with pipeline.http() as http:
        assert http.get(f"/api/v1/shipments/{unique('SHP-AUD')}").status_code == 404  # nothing was written


def test_exporter_sees_its_own_shipments_and_not_anothers(pipeline, parties, unique):
    with pipeline.http(parties["exporter"]) as http:
        for path in READ_PATHS:
            assert http.get(f"/api/v1/shipments/{parties['ours']}{path}").status_code == 200, path
            refused = http.get(f"/api/v1/shipments/{parties['theirs']}{path}")
            assert refused.status_code == 404, path  # not 403: its existence is private too
        assert http.get(f"/api/v1/fleet/{parties['theirs']}").status_code == 404
        assert http.get(f"/api/v1/fleet/{parties['ours']}").json()["id"] == parties["ours"]
        listed = {s["id"] for s in http.get("/api/v1/shipments", params={"limit": 1000}).json()}
        fleet = {s["id"] for s in http.get("/api/v1/fleet").json()}
        assert parties["ours"] in listed and parties["theirs"] not in listed
        assert listed == fleet
        assert http.get("/api/v1/shipments", params={"party": "Hangzhou Fresh Ltd."}).json() == []
        assert http.get("/api/v1/deadletters").status_code == 403
        write = http.post("/api/v1/shipments", json=shipment_body(unique("SHP-EXP"), ["TRK-EXP"]))
        assert write.status_code == 403


def test_no_token_or_an_unknown_one_is_401(pipeline):
    with httpx.Client(base_url=pipeline.api_url, timeout=10) as anonymous:
        assert anonymous.get("/api/v1/shipments").status_code == 401
        assert anonymous.post("/api/v1/feed/ticket").status_code == 401
    with pipeline.http("cc_0000_not-a-token") as http:
        assert http.get("/api/v1/shipments").status_code == 401


def test_openapi_documents_every_route_of_the_contract(pipeline):
    paths = httpx.get(f"{pipeline.api_url}/openapi.json", timeout=10).json()["paths"]
    for path in ("/api/v1/shipments", "/api/v1/shipments/{shipment_id}", "/api/v1/shipments/{shipment_id}/readings",
                 "/api/v1/shipments/{shipment_id}/excursions", "/api/v1/feed", "/api/v1/feed/ticket",
                 "/api/v1/fleet"):
        assert path in paths, path
    assert "text/event-stream" in paths["/api/v1/feed"]["get"]["responses"]["200"]["content"]


def test_the_dashboard_is_served_without_any_outside_address(pipeline):
    with httpx.Client(base_url=pipeline.api_url, timeout=10) as http:
        assert http.get("/", follow_redirects=False).headers["location"] == "/dashboard/"
        page = http.get("/dashboard/").text
        script = http.get("/dashboard/dashboard.js").text
        style = http.get("/dashboard/dashboard.css").text
    assert 'id="login"' in page and "EventSource" in script
    for text in (page, script, style):
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text


def test_lists_page_by_cursor_with_a_next_link(pipeline, unique):
    """Shipments and the audit log: a full page links to the next; the last page does not."""
    seller = unique("Paging Lobster Co.")
    ids = [unique(f"SHP-PAGE-{n}") for n in range(3)]
    with pipeline.http() as http:
        for n, shipment_id in enumerate(ids):
            body = shipment_body(shipment_id, [unique(f"TRK-PAGE-{n}")])
            body["seller"] = {**body["seller"], "name": seller}
            assert http.post("/api/v1/shipments", json=body).status_code == 201
        seen: list[str] = []
        page = http.get("/api/v1/shipments", params={"party": seller, "limit": 2})
        while True:
            assert page.status_code == 200
            seen += [s["id"] for s in page.json()]
            if "next" not in page.links:
                break
            page = http.get(page.links["next"]["url"])
        assert sorted(seen) == sorted(ids) and len(seen) == 3
        assert http.get("/api/v1/shipments", params={"cursor": "not-ours"}).status_code == 422

        patched = http.patch(f"/api/v1/shipments/{ids[0]}", json={"deliver_by": "2030-01-01T00:00:00Z"})
        assert patched.status_code == 200
        first = http.get("/api/v1/audit", params={"table": "shipments", "key": ids[0], "limit": 1})
        following = http.get(first.links["next"]["url"])
        assert [e["action"] for e in first.json() + following.json()] == ["update", "insert"]
