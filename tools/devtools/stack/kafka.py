"""Apache Kafka 3.9.1, one KRaft node, from the Maven Central jars (no distribution tarball)."""

from __future__ import annotations

import base64
import shutil
import uuid

from confluent_kafka.admin import AdminClient

from devtools.stack.layout import CHECKOUT, StackLayout
from devtools.stack.ports import StackPorts
from devtools.stack.process import StackError, port_open, read_pid, run, spawn, step, terminate, wait_until
from services.kafka.topics import ensure_topics

POM = CHECKOUT / "deploy" / "native" / "kafka-pom.xml"
KAFKA_VERSION = "3.9.1"

LOG4J = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
"""


def new_cluster_id() -> str:
    """The url-safe base64 UUID `StorageTool random-uuid` prints, without a JVM start.

    Like Kafka's `Uuid.randomUuid`, it draws again when the text would begin with "-" (1 in 64):
    such an id is read as an option on a command line."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


class Kafka:
    name = "kafka"

    def __init__(self, layout: StackLayout, ports: StackPorts) -> None:
        self.layout = layout
        self.ports = ports
        self.libs = layout.downloads / f"kafka-{KAFKA_VERSION}-libs"
        self.conf_file = layout.conf / "kafka.properties"
        self.log4j_file = layout.conf / "kafka-log4j.properties"
        self.data_dir = layout.data / "kafka"
        self.pid_file = layout.pid_file("kafka")

    @property
    def bootstrap(self) -> str:
        return f"{self.ports.host}:{self.ports.kafka}"

    @property
    def endpoint(self) -> str:
        return f"kafka://{self.bootstrap}"

    def install(self) -> None:
        if (self.libs / ".complete").exists():
            return
        if not shutil.which("mvn") or not shutil.which("java"):
            raise StackError("Kafka needs Java 17+ and Maven (`apt-get install openjdk-17-jre-headless maven`)")
        shutil.rmtree(self.libs, ignore_errors=True)
        step(f"Kafka {KAFKA_VERSION}: fetching its jars from Maven Central (about a minute)")
        run(["mvn", "-q", "-B", "-f", str(POM), f"-Dmaven.repo.local={self.layout.downloads / 'm2'}",
             "dependency:copy-dependencies", f"-DoutputDirectory={self.libs}", "-DincludeScope=runtime"],
            "mvn dependency:copy-dependencies (Kafka jars)", log=self.layout.log_file("kafka-install"))
        (self.libs / ".complete").touch()

    def _configure(self) -> None:
        host, port, ctl = self.ports.host, self.ports.kafka, self.ports.kafka_controller
        self.conf_file.write_text(
            "# coldchain: written by `coldchain stack up`\n"
            "process.roles=broker,controller\nnode.id=1\n"
            f"controller.quorum.voters=1@{host}:{ctl}\n"
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}\n"
            f"advertised.listeners=PLAINTEXT://{host}:{port}\n"
            "controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n"
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
            f"log.dirs={self.data_dir}\n"
            "num.partitions=4\nauto.create.topics.enable=true\n"
            "offsets.topic.replication.factor=1\n"
            "transaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\n"
            "group.initial.rebalance.delay.ms=0\n"
            "num.network.threads=2\nnum.io.threads=4\n"
            "log.retention.hours=168\nlog.segment.bytes=268435456\n"
        )
        self.log4j_file.write_text(LOG4J)
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id_file = self.layout.conf / "kafka-cluster-id"
        if not cluster_id_file.exists():
            cluster_id_file.write_text(new_cluster_id())
        # `--cluster-id=ID`, not `-t ID`: an id from an older checkout may begin with "-", which
        # the tool's argument parser would take for an option.
        run(self._java("kafka.tools.StorageTool", "format",
                       f"--cluster-id={cluster_id_file.read_text().strip()}",
                       "-c", str(self.conf_file), "--ignore-formatted"),
            "kafka StorageTool format", log=self.layout.log_file("kafka-format"))

    def _java(self, main: str, *args: str) -> list[str]:
        return ["java", "-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j.configuration=file:{self.log4j_file}",
                "-cp", f"{self.libs}/*", main, *args]

    def start(self) -> bool:
        if read_pid(self.pid_file) is not None and self.answers():
            return False
        self._configure()
        log = self.layout.log_file("kafka")
        spawn(self._java("kafka.Kafka", str(self.conf_file)), self.pid_file, log)
        wait_until(self.answers, "Kafka", 90, log)
        ensure_topics({"bootstrap.servers": self.bootstrap})
        return True

    def stop(self) -> bool:
        return terminate(self.pid_file, timeout_s=30)

    def answers(self) -> bool:
        if not port_open(self.ports.host, self.ports.kafka):
            return False
        try:
            AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
        except Exception:
            return False
        return True
