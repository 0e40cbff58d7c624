# Two commands open the README: `make rehearse` (a whole run, locally) and `make test`; `make synth` is for deployers.
# Each installs what is missing, quietly.
VENV    := .venv
PY      := $(VENV)/bin/python
PY_DEPS := $(VENV)/.installed
JS_DEPS := node_modules/.installed
CDK     := npx --no-install cdk

# No AWS account is needed to synthesize or test; keep the CLI from phoning home.
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_EC2_METADATA_DISABLED := true

.PHONY: install synth rehearse lint test test-fast snapshots etl-local bench clean

install: $(PY_DEPS) $(JS_DEPS)

$(PY_DEPS): requirements.txt requirements-dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-input -r requirements-dev.txt
	@touch $@

$(JS_DEPS): package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

synth: install
	@$(CDK) synth --quiet --no-notices
	@echo "Templates:      $$(ls cdk.out/*.template.json | tr '\n' ' ')"
	@echo "cdk-nag report: cdk.out/validation-report.json (synth fails on any unacknowledged finding)"

# A whole run of a named configuration rehearsed locally, no AWS account (docs/rehearsal.md): the synthesized state
# machine, the real functions and Glue transform (local Spark), a stand-in for Personalize. CONFIG=full RUNS=2
# INPUT=... OUTPUT=... (default: cdk.json's configuration, one run, the bundled sample, local-output/rehearsal/).
rehearse: install
	@$(PY) -m pipeline_cli rehearse $(if $(CONFIG),--config $(CONFIG)) $(if $(INPUT),--input $(INPUT)) $(if $(OUTPUT),--output $(OUTPUT)) $(if $(RUNS),--runs $(RUNS))

# ruff (pyflakes, bugbear, pyupgrade, complexity, pycodestyle) and mypy, configured in pyproject.toml.
lint: install
	@$(PY) -m ruff check --quiet
	@$(PY) -m mypy

# Two workers: the suite spends most of its time in CDK synths, Spark and executed state machines, which run side by
# side and keep both cores busy to the end (1,605 tests: 176 s of pytest on an idle 2-core machine; on a loaded one
# 385 s of CPU, JVM included; docs/testing.md). `make test-fast` skips the Spark tests for quick loops.
test: lint
	@$(PY) -m pytest -n auto

test-fast: install
	@$(PY) -m pytest -n auto -m "not spark"

# Records the template snapshots anew (after a deliberate template change, or a new file in config/): review the diff.
snapshots: install
	@$(PY) -m pytest -q -n auto tests/test_templates.py -k templates_match_snapshots --snapshot-update

# The Glue transform on local Spark: a bundled sample by default, or INPUT=... OUTPUT=...
etl-local: install
	@$(PY) -m glue_src.local_run $(if $(CONFIG),--config $(CONFIG)) $(if $(INPUT),--input $(INPUT)) $(if $(OUTPUT),--output $(OUTPUT)) $(ETL_ARGS)

bench: install
	@$(PY) benchmarks/etl_throughput.py
	@$(PY) benchmarks/orchestration.py
	@$(PY) benchmarks/postprocess.py

clean:
	rm -rf cdk.out local-output .benchmarks .mypy_cache .ruff_cache
