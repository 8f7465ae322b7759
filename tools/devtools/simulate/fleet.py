"""``plan_fleet``: the shipments, what should happen to them, and what their trackers send.

Each ``SimShipment`` carries its registration body (``ShipmentIn``), its scenario, the
known truth (``ShipmentTruth``) and, on demand, its samples and timed MQTT publications.
All randomness comes from the seed, so a plan is reproducible byte for byte; times are
relative to ``start``, so moving ``start`` moves everything and changes nothing else.
"""

from __future__ import annotations

import heapq
import random
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from devtools.simulate.geography import HALIFAX
from devtools.simulate.itinerary import Itinerary, Route, choose_route, plan_legs, schedule
from devtools.simulate.scenarios import (
    SCENARIOS,
    Incident,
    Outage,
    ScenarioName,
    ScenarioPlan,
    apply,
)
from devtools.simulate.thermal import BoxModel, BoxState, trace
from devtools.simulate.tracker import (
    Misbehaviour,
    PayloadFormat,
    PublishAction,
    TimestampStyle,
    Tracker,
    TrueSample,
    device_time,
    publish_actions,
    take_samples,
)
from schemas.excursion import ExcursionKind, ExcursionSeverity
from schemas.shipment import Party, Place, ShipmentIn, Stop
from services.eta.viability import consumption_rate
from services.profiles.catalog import builtin_profiles
from services.profiles.model import ProductProfile

TRACE_STEP = timedelta(minutes=1)
SELLER_EMAIL = "ops@seller.example"
SELLER_PHONE = "+19025550100"
BUYER_EMAIL = "qa@buyer.example"
BUYER_PHONE = "+8657155500100"


@dataclass(frozen=True)
class FleetOptions:
    id_prefix: str | None = None  # shipment ids are PREFIX-0001...; default "SIM{seed}"
    sample_interval: timedelta = timedelta(minutes=5)
    deliver_within: timedelta = timedelta(hours=48)
    stagger: timedelta = timedelta(hours=3)  # packing times spread over this long
    senml_share: float = 0.25  # trackers that publish SenML packs
    second_tracker_share: float = 0.3  # shipments with two trackers in the box
    misbehaviour: Misbehaviour = field(default_factory=Misbehaviour)
    box: BoxModel = field(default_factory=BoxModel)
    product: str = "live-lobster"


@dataclass(frozen=True)
class ExpectedExcursion:
    """An excursion the pipeline should report. ``start``/``end`` are in device time (the
    readings' ``ts``) and approximate: a detector may report up to ``tolerance`` off,
    depending on alarm delays and sample spacing. ``peak_c`` is the true box extreme."""

    device_id: str
    kind: ExcursionKind
    severity: ExcursionSeverity
    start: datetime
    end: datetime
    tolerance: timedelta
    peak_c: float | None
    cause: str

    def matches(
        self, kind: str, severity: str, started_at: datetime, ended_at: datetime | None
    ) -> bool:
        """Whether a reported excursion is this one (kind, severity and times agree)."""
        if kind != self.kind or severity != self.severity:
            return False
        if abs(started_at - self.start) > self.tolerance:
            return False
        return ended_at is None or abs(ended_at - self.end) <= self.tolerance

    def observable_at(self, speed: float, silence_after: timedelta) -> bool:
        """Whether a replay at ``speed`` can show it. Temperature excursions are judged on
        sample times, so they show at any speed; a silence is timed on the arrival clock, so
        the outage must last ``silence_after`` in real time: (end - start) / speed."""
        if self.kind != "sensor_silent":
            return True
        return (self.end - self.start) / speed >= silence_after


@dataclass(frozen=True)
class ShipmentTruth:
    scenario: ScenarioName
    excursions: tuple[ExpectedExcursion, ...]
    arrived_at: datetime  # true arrival at the buyer's warehouse
    deliver_by: datetime
    late: bool
    at_risk: bool  # late, or the viability budget used up before arrival
    viability_used_h: float  # profile budget hours consumed by arrival
    box_min_c: float  # true box temperature range over the trip
    box_max_c: float


@dataclass(frozen=True)
class PublicationTally:
    """Counts over all publications of a shipment, for tests to compare with the store."""

    messages: int
    malformed: int
    duplicates: int  # whole messages sent again
    repeated_samples: int  # samples sent again (duplicate messages and backlog repeats)
    batches: int
    readings: dict[str, int]  # device id -> distinct valid (device_id, ts) samples


@dataclass(frozen=True)
class Journey:
    """The physical trip of one box: where it is, how warm it is, what its trackers sample."""

    itinerary: Itinerary
    box_trace: array[float]  # true box temperature every TRACE_STEP from packing
    seed_key: str
    misbehaviour: Misbehaviour

    def box_temp_c(self, at: datetime) -> float:
        position = (at - self.itinerary.start) / TRACE_STEP
        index = min(max(0, int(position)), len(self.box_trace) - 2)
        fraction = min(1.0, max(0.0, position - index))
        low, high = self.box_trace[index], self.box_trace[index + 1]
        return low + (high - low) * fraction

    def samples(self, tracker: Tracker) -> Iterator[TrueSample]:
        rng = random.Random(f"{self.seed_key}:{tracker.device_id}:samples")
        return take_samples(tracker, self.itinerary, self.box_temp_c, rng, self.misbehaviour)

    def actions(self, tracker: Tracker) -> Iterator[PublishAction]:
        rng = random.Random(f"{self.seed_key}:{tracker.device_id}:publish")
        return publish_actions(
            tracker, self.samples(tracker), self.itinerary, rng, self.misbehaviour
        )


@dataclass(frozen=True)
class SimShipment:
    registration: ShipmentIn
    scenario: ScenarioName
    truth: ShipmentTruth
    trackers: tuple[Tracker, ...]
    journey: Journey

    @property
    def id(self) -> str:
        return self.registration.id

    @property
    def itinerary(self) -> Itinerary:
        return self.journey.itinerary

    def box_temp_c(self, at: datetime) -> float:
        """The true temperature inside the box."""
        return self.journey.box_temp_c(at)

    def samples(self, tracker: Tracker) -> Iterator[TrueSample]:
        """Every sample ``tracker`` takes, in time order (regenerated on each call)."""
        return self.journey.samples(tracker)

    def actions(self) -> Iterator[PublishAction]:
        """Every publication of every tracker in the box, in publish order."""
        streams = [self.journey.actions(t) for t in self.trackers]
        return heapq.merge(*streams, key=lambda action: action.sim_time)

    def tally(self) -> PublicationTally:
        messages = malformed = duplicates = repeated = batches = 0
        for action in self.actions():
            messages += 1
            malformed += action.kind == "malformed"
            duplicates += action.kind == "duplicate"
            batches += action.kind == "backlog"
            repeated += action.repeats
        readings = {t.device_id: sum(1 for _ in self.samples(t)) for t in self.trackers}
        return PublicationTally(messages, malformed, duplicates, repeated, batches, readings)


def plan_fleet(
    seed: int,
    n: int,
    scenarios: Sequence[ScenarioName],
    start: datetime,
    options: FleetOptions | None = None,
) -> list[SimShipment]:
    """``n`` shipments packed from ``start`` on; shipment i plays ``scenarios[i % len]``."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if not scenarios:
        raise ValueError("name at least one scenario")
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenarios: {sorted(unknown)}; known: {list(SCENARIOS)}")
    options = options or FleetOptions()
    profile = builtin_profiles()[options.product]
    prefix = options.id_prefix or f"SIM{seed}"
    return [
        _plan_shipment(seed, index, scenarios[index % len(scenarios)], start.astimezone(UTC),
                       prefix, options, profile)
        for index in range(n)
    ]


def fleet_span(shipments: Sequence[SimShipment]) -> tuple[datetime, datetime]:
    """From the first packing to the last tracker switching off (plus upload slack)."""
    first = min(s.itinerary.start for s in shipments)
    last = max(s.itinerary.end for s in shipments) + timedelta(minutes=2)
    return first, last


def _plan_shipment(
    seed: int,
    index: int,
    scenario: ScenarioName,
    start: datetime,
    prefix: str,
    options: FleetOptions,
    profile: ProductProfile,
) -> SimShipment:
    seed_key = f"coldchain-sim:{seed}:{index}"
    rng = random.Random(seed_key)
    shipment_id = f"{prefix}-{index + 1:04d}"
    stagger = rng.uniform(0, options.stagger.total_seconds())
    packed_at = (start + timedelta(seconds=stagger)).replace(second=0, microsecond=0)
    route = choose_route(rng)
    plan = apply(scenario, route, plan_legs(route, rng), rng, options.deliver_within)
    itinerary = schedule(plan.legs, packed_at)
    journey = Journey(
        itinerary, _box_trace(itinerary, options.box, rng), seed_key, options.misbehaviour
    )
    trackers = _trackers(shipment_id, plan, itinerary, rng, options)
    deliver_by = packed_at + options.deliver_within
    registration = _registration(shipment_id, route, trackers, packed_at, deliver_by, options)
    truth = _truth(journey, trackers, plan, deliver_by, profile)
    return SimShipment(registration, scenario, truth, trackers, journey)


def _box_trace(itinerary: Itinerary, model: BoxModel, rng: random.Random) -> array[float]:
    steps = int((itinerary.end - itinerary.start) / TRACE_STEP) + 1
    ambients = (
        itinerary.segment_at(itinerary.start + TRACE_STEP * (i + 0.5)).ambient_c
        for i in range(steps)
    )
    packed = BoxState(temp_c=rng.uniform(1.8, 2.8), gel_frozen=1.0)
    return trace(model, packed, ambients, TRACE_STEP / timedelta(hours=1))


def _trackers(
    shipment_id: str,
    plan: ScenarioPlan,
    itinerary: Itinerary,
    rng: random.Random,
    options: FleetOptions,
) -> tuple[Tracker, ...]:
    count = 2 if rng.random() < options.second_tracker_share else 1
    trackers = []
    for number in range(count):
        payload_format: PayloadFormat = "senml" if rng.random() < options.senml_share else "json"
        style: TimestampStyle = rng.choice(("rfc3339_utc", "rfc3339_local", "epoch"))
        outages = tuple(
            _outage_window(itinerary, o) for o in plan.outages if o.device_index == number
        )
        trackers.append(Tracker(
            device_id=f"{shipment_id}-T{number + 1}",
            payload_format=payload_format,
            timestamp_style=style,
            utc_offset_h=rng.choice((-4, -3, 8)),
            interval=options.sample_interval,
            clock_skew_s=rng.uniform(-90, 90),
            clock_drift_ppm=rng.uniform(-20, 20),
            temp_bias_c=rng.uniform(-0.1, 0.1),
            battery_start_pct=rng.uniform(85, 100),
            reports_radio=rng.random() < 0.5,
            outages=outages,
        ))
    return tuple(trackers)


def _outage_window(itinerary: Itinerary, outage: Outage) -> tuple[datetime, datetime]:
    begins = itinerary.first(outage.role).start + outage.after
    return begins, begins + outage.duration


def _registration(
    shipment_id: str,
    route: Route,
    trackers: tuple[Tracker, ...],
    packed_at: datetime,
    deliver_by: datetime,
    options: FleetOptions,
) -> ShipmentIn:
    plant = route.packer.site
    waypoints = [
        Stop(name=a.name, lat=a.lat, lon=a.lon, mode="road" if a is HALIFAX else "air")
        for a in route.airports
    ]
    warehouse = route.buyer.site
    return ShipmentIn(
        id=shipment_id,
        product=options.product,
        devices=[t.device_id for t in trackers],
        origin=Place(name=plant.name, lat=plant.lat, lon=plant.lon),
        waypoints=waypoints,
        destination=Stop(name=warehouse.name, lat=warehouse.lat, lon=warehouse.lon, mode="road"),
        packed_at=packed_at,
        deliver_by=deliver_by,
        seller=Party(name=route.packer.company, email=SELLER_EMAIL, phone=SELLER_PHONE,
                     timezone="America/Halifax"),
        buyer=Party(name=route.buyer.company, email=BUYER_EMAIL, phone=BUYER_PHONE,
                    timezone="Asia/Shanghai"),
    )


def _truth(
    journey: Journey,
    trackers: tuple[Tracker, ...],
    plan: ScenarioPlan,
    deliver_by: datetime,
    profile: ProductProfile,
) -> ShipmentTruth:
    """The outcome the scenario was designed for, located on the true temperature trace."""
    excursions: list[ExpectedExcursion] = []
    for incident in plan.incidents:
        for tracker in trackers:
            excursions.append(_temperature_excursion(journey, tracker, incident, profile))
    for outage in plan.outages:
        tracker = trackers[outage.device_index]
        excursions.append(_silence(journey, tracker, outage.cause, profile))
    arrived = journey.itinerary.arrived_at
    until_arrival = journey.box_trace[: int((arrived - journey.itinerary.start) / TRACE_STEP) + 1]
    used = _viability_used_h(until_arrival, profile)
    late = arrived > deliver_by
    return ShipmentTruth(
        scenario=plan.name,
        excursions=tuple(excursions),
        arrived_at=arrived,
        deliver_by=deliver_by,
        late=late,
        at_risk=late or used >= profile.viability.budget_h,
        viability_used_h=round(used, 2),
        box_min_c=round(min(until_arrival), 2),
        box_max_c=round(max(until_arrival), 2),
    )


def _temperature_excursion(
    journey: Journey, tracker: Tracker, incident: Incident, profile: ProductProfile
) -> ExpectedExcursion:
    """Where the true box temperature leaves the nominal band during the incident and
    comes back inside it by the hysteresis margin."""
    itinerary = journey.itinerary
    first = int((itinerary.first(incident.role).start - itinerary.start) / TRACE_STEP)
    trace_ = journey.box_trace
    high = incident.kind == "temp_high"
    limit = profile.nominal.high_c if high else profile.nominal.low_c
    back = limit - profile.hysteresis_c if high else limit + profile.hysteresis_c

    def outside(temp: float) -> bool:
        return temp > limit if high else temp < limit

    def inside(temp: float) -> bool:
        return temp <= back if high else temp >= back

    begin = next(i for i in range(first, len(trace_)) if outside(trace_[i]))
    end = next((i for i in range(begin, len(trace_)) if inside(trace_[i])), len(trace_) - 1)
    during = trace_[begin:end + 1]
    peak = max(during) if high else min(during)
    tolerance = timedelta(
        minutes=profile.nominal.delay_min + profile.close_after_min
    ) + 2 * tracker.interval
    return ExpectedExcursion(
        device_id=tracker.device_id,
        kind=incident.kind,
        severity=incident.severity,
        start=device_time(tracker, itinerary.start + begin * TRACE_STEP, itinerary.start),
        end=device_time(tracker, itinerary.start + end * TRACE_STEP, itinerary.start),
        tolerance=tolerance,
        peak_c=round(peak, 2),
        cause=incident.cause,
    )


def _silence(
    journey: Journey, tracker: Tracker, cause: str, profile: ProductProfile
) -> ExpectedExcursion:
    """From the last sample before the outage to the first one after it."""
    outage_start, outage_end = tracker.outages[0]
    last_before = first_after = None
    for sample in journey.samples(tracker):
        if sample.taken_at < outage_start:
            last_before = sample.ts
        elif first_after is None:
            first_after = sample.ts
            break
    assert last_before is not None and first_after is not None
    tolerance = timedelta(minutes=profile.silence_after_min) + 2 * tracker.interval
    return ExpectedExcursion(
        device_id=tracker.device_id,
        kind="sensor_silent",
        severity="warning",
        start=last_before,
        end=first_after,
        tolerance=tolerance,
        peak_c=None,
        cause=cause,
    )


def _viability_used_h(temps: array[float], profile: ProductProfile) -> float:
    """Budget hours consumed, by the profile's viability model (as the ETA service uses)."""
    hours_per_step = TRACE_STEP / timedelta(hours=1)
    return sum(consumption_rate(profile.viability, temp) * hours_per_step for temp in temps[1:])
