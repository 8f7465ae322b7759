"""The product profile, a plain frozen model the pure rules read."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TemperatureRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    low_c: float
    high_c: float
    delay_min: Annotated[float, Field(ge=0)]  # how long outside before it counts


class HumidityRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    low_pct: float
    delay_min: Annotated[float, Field(ge=0)]
    hysteresis_pct: Annotated[float, Field(ge=0)] = 2.0  # back in range means this far above


class ViabilityModel(BaseModel):
    """Survival budget consumed at ``q10 ** ((T - reference_c) / 10)`` hours per hour."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget_h: Annotated[float, Field(gt=0)]
    reference_c: float
    q10: Annotated[float, Field(ge=1)]
    floor_rate: Annotated[float, Field(gt=0)] = 0.5  # cold slows, never stops, consumption


class LethalLimits(BaseModel):
    """Body temperatures that kill, and how long it takes (``services/eta/lethal.py``).

    The body follows the box air through a first-order lag of ``body_time_constant_min``;
    ``low_min`` minutes in all with the modelled body at or below ``low_c`` (or ``high_min``
    at or above ``high_c``) and the product is lost. Either side may be left out.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    body_time_constant_min: Annotated[float, Field(ge=0)] = 0.0  # 0: the body is the air
    low_c: float | None = None
    low_min: Annotated[float, Field(gt=0)] = 1.0
    high_c: float | None = None
    high_min: Annotated[float, Field(gt=0)] = 1.0

    @model_validator(mode="after")
    def _a_limit_in_order(self) -> LethalLimits:
        if self.low_c is None and self.high_c is None:
            raise ValueError("lethal limits need low_c, high_c or both")
        if self.low_c is not None and self.high_c is not None and not self.low_c < self.high_c:
            raise ValueError("lethal low_c must be below high_c")
        return self


class ProductProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    nominal: TemperatureRule  # outside for delay_min -> warning
    critical: TemperatureRule  # outside for delay_min -> critical
    humidity: HumidityRule | None = None
    hysteresis_c: Annotated[float, Field(ge=0)] = 0.5
    close_after_min: Annotated[float, Field(ge=0)] = 5.0  # back in range this long -> closed
    silence_after_min: Annotated[float, Field(gt=0)] = 30.0
    viability: ViabilityModel
    lethal: LethalLimits | None = None  # products that only spoil slowly have none

    @model_validator(mode="after")
    def _lethal_beyond_critical(self) -> ProductProfile:
        # A lethal limit inside the critical band would kill with no critical excursion told.
        lethal = self.lethal
        if lethal is None:
            return self
        if lethal.low_c is not None and lethal.low_c > self.critical.low_c:
            raise ValueError("lethal low_c must be at or below critical low_c")
        if lethal.high_c is not None and lethal.high_c < self.critical.high_c:
            raise ValueError("lethal high_c must be at or above critical high_c")
        return self
