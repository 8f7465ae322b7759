from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from services.connections import DatabaseSettings, KafkaSettings, MetricsAddress, MetricsSettings, settings_config
from services.logs import LogSettings


class SinkSettings(KafkaSettings, DatabaseSettings, MetricsSettings, LogSettings):
    model_config = settings_config()
    own_database: ClassVar[str | None] = "sink"  # COLDCHAIN_SINK_DATABASE_URL, its own role
    own_metrics: ClassVar[str] = "sink"

    sink_group_id: str = "coldchain-sink"
    sink_batch_size: int = 5000
    sink_batch_wait_s: float = 0.05
    # ~4 MB of records is ~16,000 readings: one transaction each (services/sink/store.py).
    sink_transaction_bytes: Annotated[int, Field(ge=1)] = 4 * 1024 * 1024
    # A batch's partitions are shared among these, written at once (services/sink/store.py).
    sink_connections: Annotated[int, Field(ge=1, le=16)] = 2
    sink_metrics_address: MetricsAddress = ""  # host:port; empty: COLDCHAIN_METRICS_HOST and the port below
    sink_metrics_port: int = 9102  # 0 = no /metrics endpoint
    sink_nice: Annotated[int, Field(ge=0, le=19)] = 10  # gives way to the alert path (services.cpu_priority)
