"""The ETA processor's one settings object (``COLDCHAIN_*``, ``.env``, the local stack's env)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings

from services.connections import KafkaSettings, MetricsAddress, MetricsSettings, settings_config
from services.eta.parameters import EtaParameters
from services.logs import LogSettings


class EtaSettings(KafkaSettings, MetricsSettings, LogSettings, BaseSettings):
    """Kafka connection (``COLDCHAIN_KAFKA_BOOTSTRAP``/``_CONFIG``), faust worker settings
    and the ETA model.

    The model is, each layer winning over the one before: the defaults; the JSON file at
    ``COLDCHAIN_ETA_MODEL_FILE`` (what ``coldchain eta calibrate`` learned from history);
    ``COLDCHAIN_ETA_MODEL`` (a JSON object of ``EtaParameters`` fields); and the two most
    tuned values' own variables, ``COLDCHAIN_ETA_THRESHOLD_MIN`` and
    ``COLDCHAIN_ETA_ROAD_FACTOR``.
    """

    model_config = settings_config()
    own_metrics: ClassVar[str] = "eta"

    eta_app_id: str = "coldchain-eta"  # faust app id: consumer group and changelog prefix
    # memory:// rebuilds the tables from their changelog topics at start-up (no RocksDB).
    eta_store: str = "memory://"
    eta_data_dir: Path = Path.home() / ".cache" / "coldchain" / "faust-eta"
    eta_replication: Annotated[int, Field(ge=1)] = 1  # of the changelog topics
    eta_profile_files: list[Path] = []  # extra product profiles (TOML)
    # Gives way to the alert path and then to storage (services.cpu_priority): in a landing burst
    # the ETA fold (~25 µs a reading) would take the CPU the sink needs to store the backlog.
    eta_nice: Annotated[int, Field(ge=0, le=19)] = 15
    # How long the broker may hold a fetch for more readings (services.kafka.faust_app).
    eta_fetch_wait_s: Annotated[float, Field(gt=0, le=5)] = 0.1
    # The longest a reading waits for others of its shipment to be folded with (one state write).
    eta_batch_s: Annotated[float, Field(gt=0, le=5)] = 0.25
    eta_metrics_address: MetricsAddress = ""  # host:port; empty: COLDCHAIN_METRICS_HOST and the port below
    eta_metrics_port: int = 9105  # 0 = no /metrics endpoint
    eta_model_file: Path | None = None
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
        learned = read_parameters_file(self.eta_model_file) if self.eta_model_file else {}
        return EtaParameters.model_validate(
            {**learned, **self.eta_model.model_dump(exclude_unset=True), **overrides}
        )


def read_parameters_file(path: Path) -> dict[str, Any]:
    """The ``EtaParameters`` fields in a JSON file, checked; a clear error naming the file."""
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        EtaParameters.model_validate(fields)
    except OSError as exc:
        raise ValueError(f"COLDCHAIN_ETA_MODEL_FILE {path}: cannot read it: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"COLDCHAIN_ETA_MODEL_FILE {path}: not JSON: {exc}") from exc
    except ValidationError as exc:
        raise ValueError(f"COLDCHAIN_ETA_MODEL_FILE {path}: not ETA parameters: {exc}") from exc
    if not isinstance(fields, dict):
        raise ValueError(f"COLDCHAIN_ETA_MODEL_FILE {path}: not a JSON object")
    return fields
