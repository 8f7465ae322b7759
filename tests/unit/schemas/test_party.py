"""A party's ``timezone`` and ``language`` at registration (contract section 2)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from schemas.shipment import Party, ShipmentIn
from tests.unit.alerts.factories import contract_shipment


def _body(**seller: Any) -> dict[str, Any]:
    body = contract_shipment().model_dump(mode="json")
    body["seller"] |= seller
    return body


def test_an_unknown_zone_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        ShipmentIn.model_validate(_body(timezone="Mars/Olympus"))
    [error] = caught.value.errors()
    assert error["loc"] == ("seller", "timezone")
    assert "Mars/Olympus" in error["msg"]


def test_a_known_zone_is_kept() -> None:
    assert ShipmentIn.model_validate(_body(timezone="America/Halifax")).seller.timezone == "America/Halifax"


@pytest.mark.parametrize(("given", "kept"), [("en", "en"), ("fr-CA", "fr-CA"), ("zh-cn", "zh-CN"), ("FR-ca", "fr-CA")])
def test_supported_languages_are_accepted_in_their_canonical_case(given: str, kept: str) -> None:
    assert ShipmentIn.model_validate(_body(language=given)).seller.language == kept


def test_language_defaults_to_english() -> None:
    assert Party(name="Seller").language == "en"


@pytest.mark.parametrize("language", ["de", "fr", "zh_CN", "", "klingon"])
def test_an_unknown_language_is_refused_naming_the_field(language: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ShipmentIn.model_validate(_body(language=language))
    [error] = caught.value.errors()
    assert error["loc"] == ("seller", "language")


def test_the_api_answers_422_naming_the_field() -> None:
    app = FastAPI()

    @app.post("/api/v1/shipments", status_code=201)
    def register(body: ShipmentIn) -> dict[str, str]:
        return {"id": body.id}

    async def post(body: dict[str, Any]) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            return await client.post("/api/v1/shipments", json=body)

    assert asyncio.run(post(_body(timezone="America/Halifax", language="fr-CA"))).status_code == 201
    for field, value in (("timezone", "Mars/Olympus"), ("language", "de")):
        response = asyncio.run(post(_body(**{field: value})))
        assert response.status_code == 422
        assert [e["loc"] for e in response.json()["detail"]] == [["body", "seller", field]]
