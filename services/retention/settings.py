from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from services.connections import DatabaseSettings, settings_config


class RetentionSettings(DatabaseSettings):
    model_config = settings_config()
    own_database: ClassVar[str | None] = "retention"  # COLDCHAIN_RETENTION_DATABASE_URL, its own role

    retention_days: Annotated[int, Field(ge=0)] = 730  # readings kept this long; 0 = forever
    retention_every_s: Annotated[float, Field(gt=0)] = 3600.0
    # Only where `SHOW timescaledb.license` is "timescale" (the Apache build refuses it).
    retention_compress_after_days: Annotated[int, Field(ge=0)] = 7  # 0 = never compress
