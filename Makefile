# trustpipe: `make demo` runs the pipeline on the local stack, `make test` runs the checks.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV ?= python3 -m uv
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup tools browser redis image-inputs image-requirements emr-wheels demo airflow chaos fuzz test test-fast lint types bench lambda deploy local-up local-down clean

setup: $(BIN)/trustpipe redis  ## create .venv from the lock

$(BIN)/trustpipe: uv.lock pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --python python3
	@touch $@

tools: tools/checkov/.venv/bin/checkov tools/ansible/.venv/bin/ansible-lint  ## checkov and Ansible, each in its own locked venv

tools/checkov/.venv/bin/checkov: tools/checkov/uv.lock
	cd tools/checkov && $(UV) sync --frozen --python python3
	@touch $@

tools/ansible/.venv/bin/ansible-lint: tools/ansible/uv.lock
	cd tools/ansible && $(UV) sync --frozen --python python3
	@touch $@

demo: setup  ## one simulated hour through every stage built so far
	$(BIN)/trustpipe demo

SEED ?= 42
DURATION ?= 300
LAMBDA_STAGES ?=
chaos: setup  ## workers killed, PostgreSQL restarted, AWS faults injected for DURATION s (seed SEED; LAMBDA_STAGES="alerter" runs those stream stages as Lambda functions); exit 1 on any loss or duplicate
	$(BIN)/trustpipe chaos --seed $(SEED) --duration $(DURATION) --batch-hours 2 --batch-scale 0.1 \
		$(foreach s,$(LAMBDA_STAGES),--lambda-stage $(s))

FUZZ_SECONDS ?= 120
fuzz: setup  ## the codec, the registry and the workers' edge fuzzed: hypothesis's long profile (the stream importer and the Spark rules on the local stack), then each target under atheris for FUZZ_SECONDS
	TRUSTPIPE_FUZZ_PROFILE=fuzz $(BIN)/pytest -q tests/unit/fuzz \
		tests/integration/trustpipe_importer/test_stream_importer.py::test_any_decodable_scored_record_is_stored_or_set_aside \
		tests/integration/spark_jobs/test_record_rules.py::test_any_records_are_judged_alike_by_both_engines
	for target in framed container registry; do \
		$(BIN)/python -m tests.fuzz.run_atheris $$target --seconds $(FUZZ_SECONDS) || exit 1; done

airflow: setup  ## Airflow standalone on the local stack (UI, scheduler, triggerer + an importer); Ctrl-C stops all
	$(BIN)/trustpipe airflow

WHEELHOUSE ?= build/wheelhouse
EXPORT := $(UV) export --frozen --no-default-groups --no-emit-project --format requirements-txt --quiet

image-requirements: setup  ## the lock as hashed requirements: the workers' (no Airflow, Spark, moto or PostgreSQL) and the Airflow host's
	mkdir -p $(WHEELHOUSE)
	$(EXPORT) -o $(WHEELHOUSE)/requirements.txt
	$(EXPORT) --group airflow --group spark -o $(WHEELHOUSE)/requirements-airflow.txt

image-inputs: setup  ## build/wheelhouse: the trustpipe wheel and both requirements files (packer's input)
	rm -rf $(WHEELHOUSE)
	$(MAKE) --no-print-directory image-requirements WHEELHOUSE=$(WHEELHOUSE)
	$(UV) build --wheel --out-dir $(WHEELHOUSE)

EMR_WHEELS ?= build/emr
emr-wheels: setup  ## build/emr: the wheels of everything the scoring job imports, for the EMR cluster's Python and architecture, and their hashed pins
	$(BIN)/python -m trustpipe_deploy.emr_wheels --out $(EMR_WHEELS)

ENV ?= dev
deploy: setup  ## ENV=dev|prod: Lambda zip, wheelhouse, the cluster's wheels, the image if its inputs changed, terraform apply (code and Airflow config included); ENV=local: the local stack
ifeq ($(ENV),local)
	$(BIN)/trustpipe deploy --env local
else
	$(MAKE) --no-print-directory lambda image-inputs emr-wheels
	$(BIN)/trustpipe deploy --env $(ENV)
endif

# (terraform fmt reads no CLI configuration: one the environment names but that is missing would
# only add a warning to a green run)
lint: setup
	$(BIN)/ruff check services schema_registry_lambda spark_jobs dags tests bench
	$(BIN)/ruff format --check services schema_registry_lambda spark_jobs dags tests bench
	env -u TF_CLI_CONFIG_FILE terraform fmt -check -recursive infra
	$(BIN)/lint-imports --no-cache

types: setup
	$(BIN)/mypy

browser:  ## Debian's chromium, which the browser tests drive (apt, when it is missing)
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y --no-install-recommends chromium; }; }
	@chromium --version 2>/dev/null | head -1

redis:  ## Debian's redis-server, which the local stack and the counters' tests serve (apt, when it is missing)
	@command -v redis-server >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y --no-install-recommends redis-server >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y --no-install-recommends redis-server; }; }
	@redis-server --version 2>/dev/null | head -1

# The suite's waits (Terraform's apply, the KCL groups' start, the chaos run, Airflow) overlap on
# several pytest-xdist workers, each with its own local stack (tests/conftest.py). Four, not more:
# the suite is bound by the two cores, and six workers' stacks and JVMs cost a quarter more CPU
# (46 vs 36 CPU-minutes) and took longer (25.8 vs 20.4 min).
TEST_WORKERS ?= 4
test: lint types tools browser redis  ## what CI runs: lint, types, unit, integration and e2e tests (and the infra checks)
	$(BIN)/pytest -n $(TEST_WORKERS) tests/unit tests/integration tests/e2e

test-fast: setup  ## unit tests only (seconds)
	$(BIN)/pytest tests/unit -q

bench: setup  ## every benchmark in bench/, results in bench/results.json
	$(BIN)/python -m bench

lambda: setup  ## the Lambda zips: build/schema-registry-lambda.zip (the registry), build/frontdoor-lambda.zip (the stream's front door), build/<stage>-lambda.zip (each stream stage's Lambda form), build/review-lambda.zip (the review API, once services/trustpipe_review exists)
	$(BIN)/python -m schema_registry_lambda.build
	$(BIN)/python -m trustpipe_frontdoor.build
	$(BIN)/python -m trustpipe_deploy.stage_lambdas

local-up: setup
	$(BIN)/trustpipe local up

local-down: setup
	$(BIN)/trustpipe local down

clean: local-down
	rm -rf .local
