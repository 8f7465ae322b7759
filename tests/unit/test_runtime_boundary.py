"""The services' runtime has no path into the dev tooling: a service deployed from the
`coldchain` wheel (services + schemas) imports nothing from `devtools`, `bench` or `tests`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = ("devtools", "bench", "tests")


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_no_runtime_module_imports_dev_tooling() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for package in ("services", "schemas")
        for path in (ROOT / package).rglob("*.py")
        for module in _imported_modules(path)
        if module.split(".")[0] in DEV_ONLY
    }
    assert not offenders, sorted(offenders)


def test_the_scan_sees_an_import_of_dev_tooling(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom devtools.stack.layout import default_root\n")
    assert "devtools.stack.layout" in _imported_modules(module)


def test_the_services_wheel_leaves_the_dev_tools_out() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'include = ["services*", "schemas*"]' in pyproject
    assert (ROOT / "tools" / "pyproject.toml").exists()
