import json
from pathlib import Path

import typer
from devtools.simulate.cli import app
from devtools.simulate.fleet import plan_fleet
from devtools.simulate.summary import truth_record
from typer.testing import CliRunner

from schemas.shipment import ShipmentIn

runner = CliRunner()


def test_a_dry_run_writes_the_truth_and_publishes_nothing(tmp_path: Path) -> None:
    truth_file = tmp_path / "truth.json"
    result = runner.invoke(app, [
        "--dry-run", "-n", "4", "--seed", "5", "--scenario", "tarmac-delay",
        "--scenario", "customs-hold", "--start", "2026-11-09T18:00:00Z",
        "--truth", str(truth_file),
    ])
    assert result.exit_code == 0, result.output
    records = json.loads(truth_file.read_text())
    assert [r["scenario"] for r in records] == ["tarmac-delay", "customs-hold"] * 2
    ShipmentIn.model_validate(records[0]["registration"])
    assert records[0]["truth"]["excursions"][0]["kind"] == "temp_high"
    assert records[1]["truth"]["at_risk"] is True
    from datetime import UTC, datetime

    fleet = plan_fleet(5, 4, ["tarmac-delay", "customs-hold"],
                       datetime(2026, 11, 9, 18, tzinfo=UTC))
    assert records == [json.loads(json.dumps(truth_record(s, s.tally()))) for s in fleet]


def test_the_command_mounts_without_a_sub_command_name() -> None:
    root = typer.Typer()
    root.add_typer(app, name="simulate")

    @root.command()
    def other() -> None:  # a sibling, as in the real `coldchain` app
        pass

    result = runner.invoke(root, ["simulate", "--dry-run", "-n", "2", "--duration", "60"])
    assert result.exit_code == 0, result.output
    assert "SIM1-0002" in result.output


def test_bad_options_are_refused_plainly() -> None:
    result = runner.invoke(app, ["--dry-run", "--scenario", "hurricane"])
    assert result.exit_code == 1 and "unknown scenario" in result.output
    result = runner.invoke(app, ["--dry-run", "--speed", "10", "--duration", "60"])
    assert result.exit_code == 1 and "not both" in result.output
    result = runner.invoke(app, ["--dry-run", "--start", "2026-11-09T18:00:00"])
    assert result.exit_code == 1 and "offset" in result.output
