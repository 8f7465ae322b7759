"""The ETA model's tunables: priors, geofences, smoothing and emission thresholds.

Plain frozen data the pure core reads; ``EtaSettings`` builds one from the environment.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.shipment import LegMode

Hours = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]


class LegTiming(BaseModel):
    """What history says about one leg (``coldchain eta calibrate`` learns it), by the
    times the tracker shows: the last fix inside the leg's start and the first inside its end.

    A silent air leg is seen from the last fix at the departure airport (the tracker goes
    quiet at loading, before wheels-off) to the first fix after landing (it wakes up some
    minutes later), so these offsets also carry the tracker's habits, not just the carrier's.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Added to the leg's planned time: without a booking (distance over the speed prior) ...
    extra_h: float = 0.0
    # ... and with one (the booked block time, STA minus STD).
    booked_extra_h: float = 0.0
    # A booked leg: its last fix at the start, relative to the STD (negative: before it).
    departure_offset_h: float = 0.0


class EtaParameters(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Route length: great-circle distance times a per-mode detour factor.
    road_factor: Annotated[float, Field(ge=1)] = 1.3
    air_factor: Annotated[float, Field(ge=1)] = 1.0
    sea_factor: Annotated[float, Field(ge=1)] = 1.25
    # Speed priors, km/h along the route; air is a gate-to-gate block speed.
    road_speed_kmh: Positive = 65.0
    air_speed_kmh: Positive = 800.0
    sea_speed_kmh: Positive = 30.0
    # Planned dwell. At the origin: loading after packed_at. At a waypoint: handling of the
    # leg that ends there plus handling of the leg that starts there, or a transit time when
    # both legs are air (fuel stop) or both are sea, or a road stop between two road legs.
    origin_loading_h: Hours = 0.5
    air_departure_handling_h: Hours = 4.0
    air_arrival_handling_h: Hours = 4.0
    sea_departure_handling_h: Hours = 24.0
    sea_arrival_handling_h: Hours = 24.0
    air_transit_h: Hours = 1.5
    sea_transit_h: Hours = 12.0
    road_stop_h: Hours = 0.5
    # Learned per place and per leg (``coldchain eta calibrate``): a named place's planned
    # dwell (first fix inside to last fix inside; at the origin, from packed_at) replaces
    # the mode-based one above; a leg named "Start -> End" gets its timing.
    place_dwell_h: dict[str, Hours] = {}
    leg_timing: dict[str, LegTiming] = {}
    # Cargo must reach the start of a booked leg this long before its scheduled departure
    # (airline acceptance cut-off for live animals; a booked truck waits a little).
    air_booking_cutoff_h: Hours = 2.0
    sea_booking_cutoff_h: Hours = 24.0
    road_booking_cutoff_h: Hours = 0.0
    # Geofence radii by kind of place; a place named in the overrides gets its own radius.
    airport_radius_km: Positive = 4.0
    port_radius_km: Positive = 3.0
    road_stop_radius_km: Positive = 0.5
    radius_overrides_km: dict[str, Positive] = {}
    # A departure counts once a fix is this many radii away: GPS jitter at the edge of a
    # yard must not read as leaving and coming back.
    exit_radius_factor: Annotated[float, Field(ge=1)] = 2.0
    # Observed speed: progress towards the leg's end over the fixes of a trailing window.
    speed_window_min: Positive = 45.0
    min_speed_span_min: Positive = 10.0
    observed_speed_weight: Annotated[float, Field(ge=0, le=1)] = 0.8
    # No fix for this long after the planned departure: the leg is taken as under way.
    silence_grace_min: Hours = 30.0
    # Emission: an "eta" update when the ETA moves by more than this, or a leg changes.
    eta_threshold_min: Hours = 15.0
    # A risk reason clears only when the forecast is this far on the safe side.
    risk_hysteresis_min: Hours = 15.0
    # Viability: temperatures are kept as the warmest rate per bucket; readings later than
    # lateness_h behind the newest one are no longer re-scored.
    viability_bucket_min: Annotated[int, Field(ge=1, le=60)] = 10
    lateness_h: Positive = 36.0
    # Lethal limits: in a gap without readings the box air is taken to drift from the nearest
    # readings towards safety at up to this rate, so a gap shows no cold no reading showed
    # (``lethal``). An insulated box barely changes faster (5 h wall time constant: ~5 C/h
    # in a -20 C freezer room); slower would carry a cold reading further into a gap.
    gap_slew_c_per_h: Positive = 6.0

    def distance_factor(self, mode: LegMode) -> float:
        return {"road": self.road_factor, "air": self.air_factor, "sea": self.sea_factor}[mode]

    def booking_cutoff_h(self, mode: LegMode) -> float:
        return {"road": self.road_booking_cutoff_h, "air": self.air_booking_cutoff_h,
                "sea": self.sea_booking_cutoff_h}[mode]

    def speed_kmh(self, mode: LegMode) -> float:
        return {"road": self.road_speed_kmh, "air": self.air_speed_kmh, "sea": self.sea_speed_kmh}[
            mode
        ]
