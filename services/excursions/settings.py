"""The excursion processor's one settings object (``COLDCHAIN_*``, ``.env``, the local stack's env)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings

from services.connections import KafkaSettings, MetricsAddress, MetricsSettings, settings_config
from services.excursions.scoring import ScoringConfig
from services.logs import LogSettings
from services.profiles.settings import ProfileSettings


class ExcursionSettings(KafkaSettings, ProfileSettings, MetricsSettings, LogSettings, BaseSettings):
    """Kafka connection (``COLDCHAIN_KAFKA_BOOTSTRAP``/``_CONFIG``), faust worker settings and
    scoring knobs (``COLDCHAIN_EXCURSIONS_*``); the profiles (``COLDCHAIN_EXCURSIONS_PROFILE_FILES``,
    ``_DEFAULT_PRODUCT``) come from ``ProfileSettings``."""

    model_config = settings_config()
    own_metrics: ClassVar[str] = "excursions"

    excursions_app_id: str = "coldchain-excursions"  # faust app id: consumer group, changelog prefix
    # memory:// rebuilds the tables from their changelog topics at start-up (no RocksDB).
    excursions_store: str = "memory://"
    excursions_data_dir: Path = Path.home() / ".cache" / "coldchain" / "faust-excursions"
    excursions_replication: Annotated[int, Field(ge=1)] = 1  # of the changelog topics
    excursions_horizon_h: Annotated[float, Field(gt=0)] = 36.0  # how late a reading may still be scored
    excursions_checkpoint_every: Annotated[int, Field(ge=1)] = 64
    excursions_silence_check_s: Annotated[float, Field(gt=0)] = 60.0  # timer period of the silence check
    # The longest a reading waits for others to be scored with (the alert path's own delay).
    # 0.25 scored a landing burst sooner (fewer steps, each with a changelog record per tracker it changed), but the
    # alert latency bench under load got slower with it (bench/HISTORY.md, session 9).
    excursions_batch_s: Annotated[float, Field(gt=0, le=1)] = 0.02
    # How long the broker may hold a fetch for more readings (services.kafka.faust_app).
    excursions_fetch_wait_s: Annotated[float, Field(gt=0, le=1)] = 0.02
    # Ahead of ingest, the sink and ETA under overload (services.cpu_priority); needs CAP_SYS_NICE.
    excursions_nice: Annotated[int, Field(ge=-20, le=0)] = -10
    excursions_metrics_address: MetricsAddress = ""  # host:port; empty: COLDCHAIN_METRICS_HOST and the port below
    excursions_metrics_port: int = 9104  # 0 = no /metrics endpoint

    @property
    def scoring(self) -> ScoringConfig:
        return ScoringConfig(horizon_h=self.excursions_horizon_h, checkpoint_every=self.excursions_checkpoint_every)
