# Two commands do everything on a fresh machine with Python 3.11+:
#   make demo   the whole platform on embedded infrastructure, a realistic scenario end to end
#   make test   unit, integration and end-to-end tests on Apache Kafka, Temporal and PostgreSQL
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-tansu setup kafka keycloak up lint typecheck bench profile clean images compose-demo

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml */pyproject.toml services/*/pyproject.toml libs/*/pyproject.toml
	$(UV) sync --locked --all-packages --python $(PYTHON)
	touch $@

setup: $(VENV)/.synced

# Apache Kafka, the default broker of `loket up` and `make test`: Maven and the broker jars.
kafka: setup
	bash infra/scripts/ensure-kafka.sh

# The demo starts Keycloak too (fetched with Maven, which `make kafka` installs).
demo: keycloak
	$(VENV)/bin/loket demo

# Keycloak, the OIDC provider: fetched with Maven and built once into .tools/keycloak.
keycloak: kafka
	$(PY) -c "from loket_infra.keycloak import ensure_distribution as e; print('keycloak:', e())"

up: keycloak
	$(VENV)/bin/loket up

test: kafka keycloak
	bash infra/scripts/ensure-postgres.sh
	bash infra/scripts/ensure-chromium.sh
	bash infra/scripts/container-lane.sh
	bash infra/scripts/run-tests.sh

# The same suite on tansu (memory-only broker), the demo's lane.
test-tansu: keycloak
	bash infra/scripts/ensure-postgres.sh
	rm -f .loket/container-lane
	LOKET_KAFKA=tansu bash infra/scripts/run-tests.sh

# Container images (no registry: Debian's packages, PyPI and Maven Central), and the demo
# scenario against docker-compose.yml on them. Both start an engine of their own if none runs.
images: keycloak
	bash infra/scripts/ensure-docker.sh
	$(PY) -m loket_infra.images

compose-demo: images
	$(PY) -m loket_infra.compose demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy --no-incremental contracts/src libs/messaging/src libs/testing/src libs/client/src services/*/src workflows/src infra/src tests bench

bench: keycloak
	$(PY) -m bench.kafka_hop
	$(PY) -m bench.broker_peak
	$(PY) -m bench.allocation
	$(PY) -m bench.per_application
	$(PY) -m bench.idle
	$(PY) -m bench.tracing
	$(PY) -m bench.unloaded_path
	$(PY) -m bench.fastdepends_context
	$(PY) -m bench.outbox_path
	$(PY) -m bench.summary

# Where each Python process spends its CPU in a burst: py-spy profiles (it needs ptrace: root,
# or kernel.yama.ptrace_scope=0), summed up in bench/results/profile.json.
profile: keycloak
	$(PY) -m bench.profile

clean:
	rm -rf $(VENV) $(TOOLS) .loket
