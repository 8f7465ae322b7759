"""The API depends on the reports, never the other way round (no import cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[3] / "services"


def _imports(folder: Path) -> set[str]:
    found: set[str] = set()
    for source in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return found


def test_reports_do_not_import_the_api() -> None:
    assert not {name for name in _imports(SERVICES / "reports") if name.startswith("services.api")}
