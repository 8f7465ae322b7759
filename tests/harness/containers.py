"""The stack from official images with testcontainers, for machines with a Docker engine."""

from __future__ import annotations

import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from devtools.stack.mosquitto import ACL_FILE, ADMIN_USER, INGEST_USER

from services.db.roles import ROLES
from tests.harness.stack import StackEndpoints


@contextmanager
def container_stack() -> Iterator[StackEndpoints]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    from services.kafka.topics import ensure_topics

    conf = Path(tempfile.mkdtemp(prefix="coldchain-mosquitto-"))
    passwords = {INGEST_USER: secrets.token_urlsafe(12), ADMIN_USER: secrets.token_urlsafe(12)}
    (conf / "mosquitto.acl").write_text(ACL_FILE.read_text())
    (conf / "mosquitto.passwd").touch()
    for user, password in passwords.items():
        subprocess.run(["mosquitto_passwd", "-b", str(conf / "mosquitto.passwd"), user, password], check=True)
    (conf / "mosquitto.conf").write_text(
        "listener 1883\nallow_anonymous false\npassword_file /mosquitto/config/mosquitto.passwd\n"
        "acl_file /mosquitto/config/mosquitto.acl\nset_tcp_nodelay true\n")
    with (
        PostgresContainer("timescale/timescaledb:2.19.3-pg15", username="coldchain", password="coldchain",
                          dbname="coldchain") as postgres,
        KafkaContainer("confluentinc/cp-kafka:7.9.0").with_kraft() as kafka,
        DockerContainer("eclipse-mosquitto:2.0").with_volume_mapping(str(conf), "/mosquitto/config", "rw")
        .with_exposed_ports(1883) as mosquitto,
    ):
        wait_for_logs(mosquitto, "running")
        host, port = mosquitto.get_container_host_ip(), mosquitto.get_exposed_port(1883)
        bootstrap = kafka.get_bootstrap_server()
        ensure_topics({"bootstrap.servers": bootstrap})
        url = postgres.get_connection_url(driver=None)
        yield StackEndpoints(
            {
                "COLDCHAIN_KAFKA_BOOTSTRAP": bootstrap,
                "COLDCHAIN_DATABASE_URL": url,
                # each service's own role, as the native stack has them (the session fixture
                # migrates as the owner and sets these passwords)
                **{r.env: urlunsplit(urlsplit(url)._replace(
                    netloc=f"{r.name}:{secrets.token_urlsafe(12)}@{urlsplit(url).netloc.rpartition('@')[2]}"))
                   for r in ROLES},
                "COLDCHAIN_MQTT_URL": f"mqtt://{INGEST_USER}:{passwords[INGEST_USER]}@{host}:{port}",
                "COLDCHAIN_MQTT_ADMIN_URL": f"mqtt://{ADMIN_USER}:{passwords[ADMIN_USER]}@{host}:{port}",
                "COLDCHAIN_ALERT_ACK_SECRET": secrets.token_urlsafe(24),
            },
            "testcontainers",
            conf / "mosquitto.passwd",
        )
