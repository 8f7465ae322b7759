"""The shipment PDF in French and Chinese (read back with pypdf), from the API and the CLI."""

from __future__ import annotations

import asyncio
import io
import re
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import typer
from fastapi import FastAPI
from pypdf import PdfReader
from typer.testing import CliRunner

import services.api.report_routes as report_routes
import services.reports.report_command as report_command
from services.api import problems
from services.api.auth import principal
from services.api.deps import api_state
from services.api.limits import StreamSlots
from services.api.tokens import Principal
from services.reports.model import ViabilityRow
from services.reports.pdf import CJK_FONT, render_pdf, viability_text
from tests.unit.reports.factories import three_day_report


def _read(pdf: bytes) -> tuple[str, PdfReader]:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", "\n".join(page.extract_text() for page in reader.pages)), reader


def _fonts(reader: PdfReader) -> set[str]:
    names = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def test_a_chinese_report_is_chinese_in_the_builtin_cjk_font() -> None:
    text, reader = _read(render_pdf(three_day_report(), "zh-CN"))
    assert "冷链报告：货件 SHP-2026-0042" in text
    assert reader.metadata is not None and reader.metadata.title == "温度报告 SHP-2026-0042"
    assert "产品：活龙虾（配置 live-lobster）" in text
    assert "温度过高 严重 已结束 2026-11-10 10:52 UTC 2026-11-10 11:28 UTC 36.0 12.34 °C 171.5" in text
    assert "买方 短信：已发送 11-10 10:57" in text and "实际到达 2026-11-11 00:00 UTC（提前 12.0 小时）" in text
    assert "Shediac Lobster Co." in text and "Shanghai Pudong (PVG)" in text  # what parties wrote stays as written
    assert f"/{CJK_FONT}" in _fonts(reader)


def test_a_french_report_keeps_its_accents_and_decimal_commas() -> None:
    base = three_day_report()
    lost = replace(base, viability=ViabilityRow("lost", 20.5, 18.1, base.packed_at + timedelta(hours=15, minutes=32),
                                                "freezing"))
    text, reader = _read(render_pdf(lost, "fr-CA"))
    assert "Rapport de chaîne du froid : expédition SHP-2026-0042" in text
    assert "Produit : homard vivant (profil live-lobster) ; généré le 2026-11-13 18:00 UTC" in text
    assert "température trop élevée critique terminée 2026-11-10 10:52 UTC 2026-11-10 11:28 UTC 36,0 12,34 °C 171,5" \
        in text
    assert "viabilité PERDUE (gel) le 2026-11-10 09:32 UTC" in text
    assert "arrivée réelle 2026-11-11 00:00 UTC (12,0 h d’avance)" in text
    assert "Conservez ces têtes de chaîne : « coldchain verify » recalcule la chaîne" in text.replace("\u00a0", " ")
    assert f"/{CJK_FONT}" not in _fonts(reader)
    assert viability_text(lost, "fr-CA") == "PERDUE (gel) le 2026-11-10 09:32 UTC"


def test_an_unsupported_language_gives_the_english_report() -> None:
    english, _ = _read(render_pdf(three_day_report()))
    assert "Cold-chain report: shipment SHP-2026-0042" in english
    assert _read(render_pdf(three_day_report(), "de"))[0] == english


# --- GET /api/v1/shipments/{id}/report.pdf?lang= ------------------------------------------


class _Pool:
    @asynccontextmanager
    async def connection(self) -> Any:
        yield None


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    async def shipment_by_id(conn: object, shipment_id: str) -> object:
        return SimpleNamespace(seller=SimpleNamespace(name="Shediac"), buyer=SimpleNamespace(name="Hangzhou"))

    async def load_report(*_: object) -> object:
        return three_day_report()

    monkeypatch.setattr(report_routes, "shipment_by_id", shipment_by_id)
    monkeypatch.setattr(report_routes, "load_report", load_report)
    app = FastAPI()
    problems.install(app)
    app.include_router(report_routes.router)
    state = SimpleNamespace(pool=_Pool(), profiles={}, streams=StreamSlots(per_token=2, total=4),
                            settings=SimpleNamespace(base_url="http://127.0.0.1:8000"))
    app.dependency_overrides[api_state] = lambda: state
    app.dependency_overrides[principal] = lambda: Principal(token_id="t", role="auditor", party=None)
    return app


async def _get(app: FastAPI, query: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        return await client.get(f"/api/v1/shipments/SHP-2026-0042/report.pdf{query}")


@pytest.mark.parametrize(("query", "language", "title"), [
    ("", "en", "Cold-chain report: shipment SHP-2026-0042"),
    ("?lang=zh-cn", "zh-CN", "冷链报告：货件 SHP-2026-0042"),
    ("?lang=fr-CA", "fr-CA", "Rapport de chaîne du froid : expédition SHP-2026-0042"),
])
def test_the_report_route_renders_the_language_asked_for(api: FastAPI, query: str, language: str, title: str) -> None:
    response = asyncio.run(_get(api, query))
    assert response.status_code == 200 and response.headers["content-language"] == language
    assert title in _read(response.content)[0]


def test_the_report_route_refuses_an_unsupported_language_naming_the_choices(api: FastAPI) -> None:
    response = asyncio.run(_get(api, "?lang=de"))
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"loc": ["query", "lang"], "type": "value_error",
                                          "msg": "unsupported language 'de': expected one of en, fr-CA, zh-CN"}]


# --- coldchain report --lang ----------------------------------------------------------------


def test_the_report_command_takes_a_language_and_refuses_an_unknown_one(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Any) -> None:
    asked: list[str] = []

    async def write(*args: Any) -> int:
        asked.append(args[-1])
        return 0

    monkeypatch.setattr(report_command, "_write", write)
    app = typer.Typer()
    app.command()(report_command.report_command)
    out = str(tmp_path / "r.pdf")
    assert CliRunner().invoke(app, ["SHP-1", "-o", out, "--lang", "zh-cn"]).exit_code == 0
    assert CliRunner().invoke(app, ["SHP-1", "-o", out]).exit_code == 0
    assert asked == ["zh-CN", "en"]
    refused = CliRunner().invoke(app, ["SHP-1", "-o", out, "--lang", "klingon"])
    assert refused.exit_code == 2 and "unsupported language 'klingon'" in refused.output
