#!/bin/sh
# One KRaft node on 127.0.0.1 (host networking). With KAFKA_SCRAM_USERS ("name=password,…",
# admin among them) clients authenticate with SASL/SCRAM-SHA-512 and only ACLs grant access;
# the controller listener takes only the broker itself (PLAIN, KAFKA_CONTROLLER_PASSWORD).
# Users are added when the log is formatted, the first start on an empty volume.
set -eu
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
DATA=/var/lib/kafka
PROPS="$DATA/server.properties"
umask 077
if [ -n "${KAFKA_SCRAM_USERS:-}" ]; then
  CLIENT=SASL_PLAINTEXT
  ADMIN=$(printf '%s\n' "$KAFKA_SCRAM_USERS" | tr ',' '\n' | sed -n 's/^admin=//p')
  CONTROLLER="${KAFKA_CONTROLLER_PASSWORD:?the controller listener needs a password}"
  [ -n "$ADMIN" ] || { echo "KAFKA_SCRAM_USERS has no admin" >&2; exit 2; }
else
  CLIENT=PLAINTEXT
fi
cat > "$PROPS" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=$CLIENT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=$CLIENT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=$CLIENT
log.dirs=$DATA/log
num.partitions=3
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
metadata.max.idle.interval.ms=5000
num.io.threads=2
num.network.threads=1
background.threads=2
PROPS
if [ "$CLIENT" = SASL_PLAINTEXT ]; then
  cat >> "$PROPS" <<PROPS
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$ADMIN";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="$CONTROLLER" user_controller="$CONTROLLER";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:controller
allow.everyone.if.no.acl.found=false
PROPS
else
  echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT" >> "$PROPS"
fi
CP="/opt/kafka/libs/*"
# C1 only, as loket_infra.brokers.JVM_FLAGS says why.
JAVA_OPTS="${KAFKA_HEAP:--Xmx512m} -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
if [ ! -f "$DATA/log/meta.properties" ]; then
  set -- --cluster-id="$(java -cp "$CP" kafka.tools.StorageTool random-uuid)" -c "$PROPS"
  for user in $(printf '%s' "${KAFKA_SCRAM_USERS:-}" | tr ',' ' '); do
    set -- "$@" --add-scram "SCRAM-SHA-512=[name=${user%%=*},password=${user#*=}]"
  done
  java -cp "$CP" kafka.tools.StorageTool format "$@" >/dev/null
fi
# shellcheck disable=SC2086
exec java $JAVA_OPTS -cp "$CP" kafka.Kafka "$PROPS"
