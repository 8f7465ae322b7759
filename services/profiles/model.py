"""The product profile, a plain frozen model the pure rules read."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


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
