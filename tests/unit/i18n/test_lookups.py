"""Every text the alerts and the report look up at run time is in the catalog.

The extraction only sees literal msgids in marker calls; a text looked up another way (an
alias it does not know, a call inside an f-string) would silently stay English. Rendering
every kind of alert and the report through a recording catalog finds those.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.support import NullTranslations

import services.i18n.language as language_module
from services.alerts.formatting import LinkConfig, format_email, format_sms
from services.i18n.catalogs import catalog_path, read_catalog, translations
from services.reports.model import AlertRow, DeliveryRow, ViabilityRow
from services.reports.pdf import render_pdf
from tests.unit.alerts.factories import every_alert
from tests.unit.reports.factories import three_day_report

AT = datetime(2026, 11, 10, 3, 12, tzinfo=UTC)
LINKS = LinkConfig(public_url="https://coldchain.example", ack_secret=b"s")


class _Recording(NullTranslations):
    def __init__(self, real: NullTranslations, seen: set[tuple[str | None, str]]) -> None:
        super().__init__()
        self._real, self._seen = real, seen

    def gettext(self, message: str) -> str:
        self._seen.add((None, message))
        return self._real.gettext(message)

    def pgettext(self, context: str, message: str) -> str:
        self._seen.add((context, message))
        return self._real.pgettext(context, message)


@pytest.fixture
def looked_up(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[tuple[str | None, str]]]:
    seen: set[tuple[str | None, str]] = set()
    monkeypatch.setattr(language_module, "translations", lambda locale: _Recording(translations(locale), seen))
    language_module.language_for.cache_clear()
    yield seen
    language_module.language_for.cache_clear()


@pytest.mark.parametrize("language", ["fr-CA", "zh-CN"])
def test_every_alert_text_looked_up_is_in_the_catalog(language: str, looked_up: set) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    for alert in every_alert():
        format_sms(alert, "+8613800000000", "dl-1", zone, LINKS, language)
        format_email(alert, "qa@buyer.example", "Buyer", "dl-2", zone, LINKS, language)
    # Across midnight and across a DST change, the two other ways of saying a span.
    long = every_alert()[0].model_copy(update={"found_late": True})
    for start, end in ((AT - timedelta(hours=30), AT), (datetime(2026, 11, 1, 4, tzinfo=UTC),
                                                        datetime(2026, 11, 1, 7, tzinfo=UTC))):
        late = long.model_copy(update={"figures": long.figures.model_copy(update={"started_at": start,
                                                                                  "ended_at": end})})
        format_sms(late, "+19025550100", "dl-3", ZoneInfo("America/Halifax"), LINKS, language)
    _assert_known(looked_up, language)


@pytest.mark.parametrize("language", ["fr-CA", "zh-CN"])
def test_every_report_text_looked_up_is_in_the_catalog(language: str, looked_up: set) -> None:
    base = three_day_report()
    late = base.deliver_by + timedelta(hours=2)
    hot = base.excursions[0]
    report = replace(
        base, actual_arrival=late, viability=ViabilityRow("lost", 20.5, 18.1, late, None),
        excursions=(hot, replace(hot, kind="humidity_low", status="open", ended_at=None, peak_humidity_pct=61.0)),
        alerts=(replace(base.alerts[0], acknowledged_at=None,
                        deliveries=tuple(DeliveryRow("ops", c, s, None) for c in ("email", "sms")
                                         for s in ("pending", "sending", "failed"))),
                AlertRow("at_risk", "warning", "closed", base.packed_at, base.packed_at, None, None)),
    )
    render_pdf(report, language)
    render_pdf(replace(report, viability=ViabilityRow("ok", 2.0, 30.0), actual_arrival=None, excursions=(),
                       alerts=()), language)
    _assert_known(looked_up, language)


def _assert_known(looked_up: set[tuple[str | None, str]], language: str) -> None:
    catalog = read_catalog(catalog_path(language.replace("-", "_")))
    known = {(m.context, m.id) for m in catalog if m.id}
    assert looked_up, "nothing was looked up"
    assert sorted(looked_up - known, key=str) == []

