# Entry points: `make demo` (deploy the dev stage to a local AWS), `make test` (the whole suite),
# `make synth STAGE=<name|all>` (the pull-request check). Each installs what it needs first.
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

.PHONY: install synth lint test demo clean schema bench bench-synth bench-split bench-serving

install: $(VENV_STAMP) $(CHECKOV_STAMP) $(NODE_STAMP)

$(VENV_STAMP): requirements.txt requirements-dev.txt
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

lint: $(VENV_STAMP)
	ruff check .
	ruff format --check .
	mypy

test: install lint
	pytest

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

bench: bench-synth bench-split bench-serving

bench-synth: install
	python benchmarks/synth.py

bench-split: install $(BENCH_STAMP)
	python benchmarks/split.py

bench-serving: install $(BENCH_STAMP)
	python benchmarks/serving.py
