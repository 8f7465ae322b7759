"""`coldchain simulate`: plan a fleet, optionally register it, and publish it over MQTT.

The command lives in the app's callback, so ``app.add_typer(app, name="simulate")`` gives
``coldchain simulate [OPTIONS]`` with no sub-command name.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, cast

import typer
from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table

from devtools.simulate.console_view import FleetView
from devtools.simulate.fleet import FleetOptions, SimShipment, fleet_span, plan_fleet
from devtools.simulate.mqtt_publisher import MqttFleetPublisher, PublisherError
from devtools.simulate.pacing import Pace, choose_speed, live_start, merged_actions
from devtools.simulate.registration import RegistrationError, ShipmentRegistrar
from devtools.simulate.replay import replay
from devtools.simulate.scenarios import SCENARIOS, ScenarioName
from devtools.simulate.settings import SimulateSettings
from devtools.simulate.summary import route_text, truth_record
from devtools.simulate.tracker import Misbehaviour
from services.connections import parse_mqtt_url

app = typer.Typer(help="A fleet of simulated lobster shipments publishing over MQTT.")
console = Console(stderr=True)
PLANNING_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # any fixed start: spans do not depend on it


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


def _scenarios(names: list[str] | None) -> list[ScenarioName]:
    chosen = names or list(SCENARIOS)
    unknown = [n for n in chosen if n not in SCENARIOS]
    if unknown:
        raise _fail(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    return [cast(ScenarioName, n) for n in chosen]


def _parse_start(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _fail(f"--start {text!r} is not an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise _fail("--start needs a UTC offset, e.g. 2026-11-09T18:00:00Z")
    return value.astimezone(UTC)


def _credentials(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read credentials {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise _fail(f"{path} must be a JSON object of device id -> password")
    return {str(k): v for k, v in data.items()}


@app.callback(invoke_without_command=True)
def simulate(
    shipments: Annotated[int, typer.Option("--shipments", "-n", min=1, help="fleet size")] = 6,
    seed: Annotated[int, typer.Option(help="same seed, same fleet, same bytes")] = 1,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help=f"repeatable; shipments take them in turn ({', '.join(SCENARIOS)}); "
                          "default: all of them"),
    ] = None,
    speed: Annotated[
        float | None, typer.Option(help="simulated seconds per real second (default 1: real time)")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="real seconds for the whole fleet (instead of --speed)")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="simulated time of the first packing (ISO 8601 with offset); default: "
                          "early enough that the replay ends at the present, so data is live"),
    ] = None,
    interval: Annotated[float, typer.Option(help="tracker sampling interval, minutes")] = 5.0,
    malformed: Annotated[float, typer.Option(help="share of live messages also sent broken")] = 0.01,
    duplicates: Annotated[float, typer.Option(help="share of live messages sent twice")] = 0.02,
    id_prefix: Annotated[
        str | None, typer.Option(help="shipment ids are PREFIX-0001...; default SIM<seed>")
    ] = None,
    register: Annotated[
        str | None,
        typer.Option(help="API base URL: POST each shipment to URL/api/v1/shipments first"),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="bearer token for --register (default COLDCHAIN_API_TOKEN)")
    ] = None,
    credentials: Annotated[
        Path | None, typer.Option(help="JSON object device id -> MQTT password; others share "
                                       "one account")
    ] = None,
    mqtt_url: Annotated[
        str | None, typer.Option(help="shared account URL (default COLDCHAIN_MQTT_ADMIN_URL, "
                                      "else COLDCHAIN_MQTT_URL)")
    ] = None,
    truth: Annotated[
        Path | None, typer.Option(help="write the fleet, its truth and message counts as JSON")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="print the plan, publish nothing")] = False,
) -> None:
    """Plan N shipments Nova Scotia -> China and replay their trackers over MQTT."""
    settings = SimulateSettings()
    names = _scenarios(scenario)
    options = FleetOptions(
        id_prefix=id_prefix,
        sample_interval=timedelta(minutes=interval),
        misbehaviour=Misbehaviour(malformed=malformed, duplicate=duplicates),
    )
    provisional = plan_fleet(seed, shipments, names, PLANNING_EPOCH, options)
    span = fleet_span(provisional)[1] - PLANNING_EPOCH
    try:
        pace_speed = choose_speed(span, speed, duration)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    sim_start = _parse_start(start) if start else live_start(datetime.now(UTC), span, pace_speed)
    fleet = plan_fleet(seed, shipments, names, sim_start, options)
    if truth is not None:
        records = [truth_record(s, s.tally()) for s in fleet]
        truth.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
        console.print(f"truth written to {truth}")
    _print_plan(fleet, sim_start, span, pace_speed)
    if dry_run:
        return
    if register:
        configured = settings.api_token.get_secret_value() if settings.api_token else None
        _register(fleet, register, token or configured)
    try:
        endpoint = parse_mqtt_url(mqtt_url) if mqtt_url else settings.publisher_endpoint
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    publisher = MqttFleetPublisher(endpoint, _credentials(credentials), settings.mqtt_ca_file,
                                   device_endpoint=settings.device_endpoint)
    _publish(fleet, publisher, Pace(sim_start, pace_speed), sim_start + span)


def _print_plan(fleet: list[SimShipment], start: datetime, span: timedelta, speed: float) -> None:
    table = Table(title="coldchain simulate", box=box.SIMPLE_HEAD)
    table.add_column("shipment", no_wrap=True)
    table.add_column("scenario", no_wrap=True)
    table.add_column("route", no_wrap=True)
    table.add_column("arrives", no_wrap=True)  # after packing
    table.add_column("expected")
    for shipment in fleet:
        truth = shipment.truth
        kinds = Counter(f"{e.kind} {e.severity}" for e in truth.excursions)
        expected = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in kinds.items()) or "-"
        if truth.at_risk:
            expected += " [red]at risk[/red]"
        hours = (truth.arrived_at - shipment.registration.packed_at).total_seconds() / 3600
        table.add_row(
            shipment.id, shipment.scenario, route_text(shipment), f"+{hours:.1f} h", expected,
        )
    console.print(table)
    real = span / speed
    console.print(
        f"simulated {start:%Y-%m-%d %H:%M}Z + {span.total_seconds() / 3600:.1f} h at "
        f"{speed:.0f}x: about {_duration_text(real)} of real time"
    )


def _duration_text(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"


def _register(fleet: list[SimShipment], api_url: str, token: str | None) -> None:
    if not token:
        raise _fail("--register needs --token or COLDCHAIN_API_TOKEN")
    registrar = ShipmentRegistrar(api_url, token)
    registrar.start()
    try:
        outcomes = [registrar.register(s.registration) for s in fleet]
    except RegistrationError as exc:
        raise _fail(str(exc)) from exc
    finally:
        registrar.stop()
    console.print(
        f"registered {outcomes.count('created')} shipments at {api_url} "
        f"({outcomes.count('exists')} already there)"
    )


def _publish(
    fleet: list[SimShipment], publisher: MqttFleetPublisher, pace: Pace, end: datetime
) -> None:
    try:
        publisher.start(t.device_id for s in fleet for t in s.trackers)
    except PublisherError as exc:
        raise _fail(str(exc)) from exc
    view = FleetView(fleet, pace.sim_start, end,
                     lambda: (publisher.sent, publisher.acked, publisher.refused))
    interrupted = False
    try:
        with Live(console=console, refresh_per_second=4, get_renderable=view.render):
            replay(merged_actions(fleet), pace, publisher, on_tick=view.update)
    except KeyboardInterrupt:
        interrupted = True
    except PublisherError as exc:
        publisher.stop()
        raise _fail(str(exc)) from exc
    flushed = publisher.flush(timeout_s=30)
    publisher.stop()
    console.print(
        f"{'stopped early: ' if interrupted else ''}published {publisher.sent}, acknowledged "
        f"{publisher.acked}, refused by the broker {publisher.refused}"
    )
    if not flushed or publisher.refused or interrupted:
        raise typer.Exit(1)
