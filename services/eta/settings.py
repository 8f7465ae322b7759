"""The ETA processor's one settings object (``COLDCHAIN_*``, ``.env``, the local stack's env)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings

from services.connections import KafkaSettings, settings_config
from services.eta.parameters import EtaParameters
from services.stack.layout import default_root


class EtaSettings(KafkaSettings, BaseSettings):
    """Kafka connection (``COLDCHAIN_KAFKA_BOOTSTRAP``/``_CONFIG``), faust worker settings
    and the ETA model.

    The model is ``COLDCHAIN_ETA_MODEL`` (a JSON object of ``EtaParameters`` fields); the
    two most tuned values also have their own variables, which win over the JSON:
    ``COLDCHAIN_ETA_THRESHOLD_MIN`` and ``COLDCHAIN_ETA_ROAD_FACTOR``.
    """

    model_config = settings_config()

    eta_app_id: str = "coldchain-eta"  # faust app id: consumer group and changelog prefix
    # memory:// rebuilds the tables from their changelog topics at start-up (no RocksDB).
    eta_store: str = "memory://"
    eta_data_dir: Path = Field(default_factory=lambda: default_root() / "data" / "faust-eta")
    eta_replication: Annotated[int, Field(ge=1)] = 1  # of the changelog topics
    eta_profile_files: list[Path] = []  # extra product profiles (TOML)
    eta_model: EtaParameters = EtaParameters()
    eta_threshold_min: Annotated[float, Field(ge=0)] | None = None
    eta_road_factor: Annotated[float, Field(ge=1)] | None = None

    @property
    def parameters(self) -> EtaParameters:
        overrides: dict[str, float] = {}
        if self.eta_threshold_min is not None:
            overrides["eta_threshold_min"] = self.eta_threshold_min
        if self.eta_road_factor is not None:
            overrides["road_factor"] = self.eta_road_factor
        return EtaParameters.model_validate({**self.eta_model.model_dump(), **overrides})
