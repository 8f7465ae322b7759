"""What the operator sees while the fleet runs: a progress bar on the simulated clock and
where each shipment is, how warm its box is, and whether its trackers are in the air."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from rich.console import Group, RenderableType
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from devtools.simulate.fleet import SimShipment
from devtools.simulate.replay import ReplayStats

MAX_ROWS = 12


def temperature_text(temp_c: float) -> str:
    if temp_c < -1 or temp_c > 10:
        style = "bold red"
    elif temp_c < 0 or temp_c > 5:
        style = "yellow"
    else:
        style = "green"
    return f"[{style}]{temp_c:5.1f} °C[/{style}]"


def phase(shipment: SimShipment, at: datetime) -> str:
    itinerary = shipment.itinerary
    if at < itinerary.start:
        return "[dim]not packed yet[/dim]"
    if at >= itinerary.end:
        return "[dim]delivered, trackers off[/dim]"
    segment = itinerary.segment_at(at)
    return f"[cyan]{segment.label}[/cyan]" if segment.kind == "air" else segment.label


class FleetView:
    def __init__(
        self,
        shipments: Sequence[SimShipment],
        start: datetime,
        end: datetime,
        broker_counts: Callable[[], tuple[int, int, int]],  # sent, acked, refused
    ) -> None:
        self.shipments = shipments
        self.start = start
        self.broker_counts = broker_counts
        self.stats = ReplayStats(sim_now=start)
        self.progress = Progress(
            TextColumn("[bold]{task.fields[clock]}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            auto_refresh=False,
        )
        self.task = self.progress.add_task(
            "fleet", total=(end - start).total_seconds(), clock="", counts=""
        )

    def update(self, stats: ReplayStats) -> None:
        self.stats = stats

    def render(self) -> RenderableType:
        now = self.stats.sim_now or self.start
        sent, acked, refused = self.broker_counts()
        kinds = self.stats.by_kind
        counts = (
            f"{self.stats.published} msgs ({self.stats.samples} samples, "
            f"{kinds.get('backlog', 0)} batches, {kinds.get('duplicate', 0)} dup, "
            f"{kinds.get('malformed', 0)} malformed) acked {acked}/{sent}"
            + (f" [red]refused {refused}[/red]" if refused else "")
        )
        self.progress.update(
            self.task,
            completed=(now - self.start).total_seconds(),
            clock=f"sim {now:%Y-%m-%d %H:%M}Z",
            counts=counts,
        )
        return Group(self.progress, self._table(now))

    def _table(self, now: datetime) -> Table:
        table = Table("shipment", "scenario", "where", "box", box=None, pad_edge=False)
        for shipment in self.shipments[:MAX_ROWS]:
            table.add_row(
                shipment.id, shipment.scenario, phase(shipment, now),
                temperature_text(shipment.box_temp_c(now)),
            )
        rest = self.shipments[MAX_ROWS:]
        if rest:
            airborne = Counter(
                "in the air" if s.itinerary.segment_at(now).kind == "air" else "on the ground"
                for s in rest
            )
            summary = ", ".join(f"{count} {where}" for where, count in sorted(airborne.items()))
            table.add_row(f"+{len(rest)} more", "", summary, "")
        return table
