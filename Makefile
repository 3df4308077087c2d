# Entry points: `make demo` (deploy the dev stage to a local AWS), `make unit` (the unit tests, the
# quick loop), `make test` (lint and the whole suite), `make synth STAGE=<name|all>` (the pull-request
# check), `make diff STAGE=<name>` and `make deploy STAGE=<name>` (a real account: your credentials).
# Each installs what it needs first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
STAGE ?= dev
PYTHON ?= python3

# Node 22 from npm first (Node 20 is end-of-life for jsii), then the project's virtualenv.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/.venv/bin:$(PATH)
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_VERSION_CHECK := true

VENV_STAMP := .venv/.installed
CHECKOV_STAMP := .venv-checkov/.installed
NODE_STAMP := node_modules/.installed

.PHONY: install synth lint unit test diff deploy demo clean schema bench bench-synth bench-split bench-serving bench-monitor

install: $(VENV_STAMP) $(CHECKOV_STAMP) $(NODE_STAMP)

# requirements-dev.txt includes requirements.txt and model_code/requirements.txt (-r).
$(VENV_STAMP): requirements.txt requirements-dev.txt model_code/requirements.txt
	$(PYTHON) -m venv .venv
	.venv/bin/pip install --quiet -r requirements-dev.txt
	touch $@

# checkov pins its own boto3: it gets a virtualenv of its own.
$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Synthesize with the real CLI (cdk-nag runs inside synth), then cfn-lint and checkov.
# cfn-lint: W3005 is CDK's redundant DependsOn; W6001 flags outputs built from an imported value,
# which the endpoint stack's data-capture URI is on purpose (the bucket lives in the data stack).
CFN_LINT_IGNORED := W3005,W6001
synth: install
	rm -rf cdk.out
	cdk synth --quiet -c stage=$(STAGE)
	cfn-lint --ignore-checks $(CFN_LINT_IGNORED) -- cdk.out/assembly-*/*.template.json
	.venv-checkov/bin/checkov --skip-download --quiet --compact --framework cloudformation -d cdk.out

# Runs each command given, all of them even when one fails, then fails naming those that failed.
run_all = passed=""; failed=""; \
	for command in $(1); do \
		echo "== $$command"; \
		if $$command; then passed="$$passed, $$command"; else failed="$$failed, $$command"; fi; \
	done; \
	echo "== passed: $${passed:2}"; \
	if [ -n "$$failed" ]; then echo "== FAILED: $${failed:2}" >&2; exit 1; fi
LINT := "ruff check ." "ruff format --check ." "mypy"

lint: $(VENV_STAMP)
	@$(call run_all,$(LINT))

# The quick loop: unit tests only (no server, no CLI synth, no local deploy), no lint.
unit: $(VENV_STAMP) $(NODE_STAMP)
	pytest -m "not integration"

# Lint and the whole suite: both always run (a formatting slip does not hide the test results).
test: install
	@$(call run_all,$(LINT) pytest)

# A real account (your credentials): what would change, and the ordered deploy of a stage
# (ops/deploy.py; ARGS=--yes skips the CDK CLI's approval prompt for security-sensitive changes).
diff: $(VENV_STAMP) $(NODE_STAMP)
	cdk diff '$(STAGE)/*' -c stage=$(STAGE)

deploy: $(VENV_STAMP) $(NODE_STAMP)
	python -m ops.deploy --stage $(STAGE) $(ARGS)

demo: install
	python -m local_aws.demo

# Regenerate config/stage.schema.json and the configuration reference in docs/configuration.md.
schema: $(VENV_STAMP)
	python -m config.reference --write

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache

# Benchmarks run on demand, never in the tests; each prints ratios measured side by side.
# The baselines (pandas, Flask, multi-model-server, which needs Java) and hey come from here.
BENCH_STAMP := .venv/.bench-installed
$(BENCH_STAMP): requirements-bench.txt $(VENV_STAMP)
	.venv/bin/pip install --quiet -r requirements-bench.txt
	command -v hey >/dev/null || (apt-get update -qq && apt-get install -y -qq hey)
	touch $@

bench: bench-synth bench-split bench-serving bench-monitor

bench-synth: install
	python benchmarks/synth.py

bench-split: install $(BENCH_STAMP)
	python benchmarks/split.py

bench-serving: install $(BENCH_STAMP)
	python benchmarks/serving.py

bench-monitor: install $(BENCH_STAMP)
	python benchmarks/monitor.py
