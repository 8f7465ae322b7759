from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from services.connections import DatabaseSettings, MetricsAddress, MetricsSettings, settings_config
from services.logs import LogSettings


class RetentionSettings(DatabaseSettings, MetricsSettings, LogSettings):
    model_config = settings_config()
    own_database: ClassVar[str | None] = "retention"  # COLDCHAIN_RETENTION_DATABASE_URL, its own role
    own_metrics: ClassVar[str] = "retention"

    retention_days: Annotated[int, Field(ge=0)] = 730  # readings kept this long; 0 = forever
    retention_every_s: Annotated[float, Field(gt=0)] = 3600.0
    # Only where `SHOW timescaledb.license` is "timescale" (the Apache build refuses it).
    retention_compress_after_days: Annotated[int, Field(ge=0)] = 7  # 0 = never compress
    retention_metrics_address: MetricsAddress = ""  # host:port; empty: COLDCHAIN_METRICS_HOST and the port below
    retention_metrics_port: int = 9106  # 0 = no /metrics endpoint
