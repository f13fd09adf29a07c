# The two commands of the README: `make dev` runs the whole service locally, `make test` runs
# every test. Both install what they need (a pinned moto in .venv) and never reach real AWS.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The caller's own AWS settings, read before they are replaced below, for `make deploy` only.
AWS_VARS := AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
CALLER_AWS := $(strip $(foreach v,$(AWS_VARS),$(if $($(v)),$(v)='$($(v))')))
CALLER_CREDENTIALS := $(strip $(AWS_ACCESS_KEY_ID)$(AWS_PROFILE))

# Nothing may reach a real AWS endpoint or the instance metadata address.
export AWS_ACCESS_KEY_ID := local
export AWS_SECRET_ACCESS_KEY := local
export AWS_REGION := ap-northeast-1
export AWS_DEFAULT_REGION := ap-northeast-1
export AWS_EC2_METADATA_DISABLED := true
unexport AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
export AWS_CONFIG_FILE := /dev/null
export AWS_SHARED_CREDENTIALS_FILE := /dev/null

PYTHON ?= python3
VENV := .venv

.PHONY: help binaries field-data dev mail test contract openapi lint venv contract-venv tools browser-deps bench bench-sheets bench-settlement bench-payouts bench-item-mapping bench-cards bench-startup sizes screenshots validate deploy cfn-check font-layer clean install

help:
	@echo "make dev    run the whole service locally (emulator, tables, demo data, API on 127.0.0.1:3000)"
	@echo "make test   run every test (each test binary starts its own emulator)"
	@echo "make mail   print the mail the running local stack has sent"
	@echo "make lint   rustfmt and clippy, as CI runs them"
	@echo "make field-data  Zengin codes and holidays from their pinned packages into shared/data"
	@echo "make openapi  write infra/openapi.yaml from infra/openapi/document.yaml and the request types"
	@echo "make contract  schemathesis from infra/openapi.yaml against the running local stack (make dev)"
	@echo "make bench  sheet render time and size (criterion)"
	@echo "make bench-sheets  1,000 sheets a round against reportlab drawing the same layouts (ROUNDS=5)"
	@echo "make bench-settlement  reconcile a settlement file of LINES (10000) lines: time, calls per line"
	@echo "make bench-payouts  the payout run over MERCHANTS (100) x BILLS (1000) settled bills: time, calls; a 10,000-bill statement"
	@echo "make bench-cards  COUNT (10000) card numbers as issue-cards writes them vs a bare PutItem loop"
	@echo "make sizes   every function binary built as sam build does, stripped and zipped, against its budget"
	@echo "make bench-startup  start-up of every function vs a hello-world lambda_runtime binary (median of 20)"
	@echo "make screenshots  the customer's pages in headless Chromium, into docs/screenshots"
	@echo "make validate  sam validate --lint of infra/template.yaml"
	@echo "make cfn-check the template expanded (samtranslator) and created on moto's CloudFormation"
	@echo "make deploy ENV=staging|prod  sam build + sam deploy with samconfig.toml's [ENV], no prompts"
	@echo "make install   put the smartpit operator command on the PATH (cargo install)"

$(VENV)/.installed: infra/local/requirements.txt
	@echo "installing the local AWS emulator (moto, pinned in infra/local/requirements.txt) into $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --progress-bar off --disable-pip-version-check -r infra/local/requirements.txt | grep -E '^(Collecting|Successfully)' || true
	@test -x $(VENV)/bin/python && $(VENV)/bin/python -c 'import moto' && touch $@

venv: $(VENV)/.installed

# schemathesis (pinned), in a venv of its own: tests/contract.rs and `make contract` run it.
.venv-contract/.installed: infra/local/requirements-contract.txt
	@echo "installing schemathesis (pinned in infra/local/requirements-contract.txt) into .venv-contract"
	$(PYTHON) -m venv .venv-contract
	.venv-contract/bin/pip install --progress-bar off --disable-pip-version-check -r infra/local/requirements-contract.txt | grep -E '^Successfully' || true
	@test -x .venv-contract/bin/st && touch $@

contract-venv: .venv-contract/.installed

tools:
	bash infra/local/install-tools.sh

# playwright-core (pinned in tests/browser/package-lock.json), which drives Debian's Chromium
# in the browser tests; no browser download.
browser-deps: tests/browser/node_modules/.installed
tests/browser/node_modules/.installed: tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Every binary of the workspace: the local stack runs each function's own (the one `sam build`
# packs), one process per instance, under the Runtime API it serves.
binaries:
	cargo build --workspace --bins

dev: venv tools font-layer
	@echo "building the local stack (a first build takes about 3 minutes)"
	cargo build --workspace --bins
	cargo run -p smartpit-local --bin smartpit-local

# The operator command on the PATH (~/.cargo/bin): `smartpit --help`.
install:
	cargo install --locked --path infra/cli

# The mail the running local stack has sent.
mail:
	cargo run --quiet -p smartpit-cli --bin smartpit -- mail

test: venv contract-venv tools browser-deps font-layer binaries
	cargo test --workspace --no-fail-fast

# The browser tests, keeping their screenshots for the docs and the README.
screenshots: venv tools browser-deps
	SMARTPIT_SCREENSHOTS=$(CURDIR)/docs/screenshots cargo test -p smartpit-tests --test customer_web --test sandbox --test customer_mail --test console

# The HTTP contract, generated: the operations' prose from infra/openapi/document.yaml, every request
# body's schema from its request type; a test fails when the committed file is not this.
openapi:
	cargo run --quiet -p smartpit-local --bin openapi

# The contract's property-based run against the stack `make dev` started (.local/stack.json).
contract: contract-venv
	@test -f .local/stack.json || { echo "no local stack: run make dev first"; exit 2; }
	SMARTPIT_MERCHANT_KEY=$$($(PYTHON) -c 'import json;print(json.load(open(".local/stack.json"))["merchants"][0]["api_key"])') \
	SMARTPIT_CHAIN_KEY=$$($(PYTHON) -c 'import json;print(json.load(open(".local/stack.json"))["store_chains"]["lawson"])') \
	.venv-contract/bin/st --config-file infra/local/schemathesis.toml run infra/openapi.yaml \
	  --url $$($(PYTHON) -c 'import json;print(json.load(open(".local/stack.json"))["api_url"])') \
	  --max-redirects 0 --checks all --exclude-checks positive_data_acceptance,use_after_free,ensure_resource_availability

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

.venv-deploy/.installed: infra/local/requirements-deploy.txt
	$(PYTHON) -m venv .venv-deploy
	.venv-deploy/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements-deploy.txt
	touch $@

# `make deploy ENV=staging|prod`: release build (cargo-lambda, arm64) and deploy without prompts,
# with samconfig.toml's [ENV] section. Needs AWS credentials of that account in the environment.
ENV ?=
deploy: .venv-deploy/.installed font-layer
	@case "$(ENV)" in staging|prod) ;; *) echo "say ENV=staging or ENV=prod"; exit 2;; esac
	@test -n "$(CALLER_CREDENTIALS)" || { echo "no AWS credentials in the environment (AWS_ACCESS_KEY_ID or AWS_PROFILE)"; exit 2; }
	.venv-deploy/bin/pip install --quiet --disable-pip-version-check cargo-lambda
	@env $(foreach v,$(AWS_VARS) AWS_EC2_METADATA_DISABLED,-u $(v)) $(CALLER_AWS) SAM_CLI_TELEMETRY=0 \
	  PATH="$(CURDIR)/.venv-deploy/bin:$$PATH" .venv-deploy/bin/sam build --config-env $(ENV)
	bash infra/local/sizes.sh --built .aws-sam/build
	@env $(foreach v,$(AWS_VARS) AWS_EC2_METADATA_DISABLED,-u $(v)) $(CALLER_AWS) SAM_CLI_TELEMETRY=0 \
	  .venv-deploy/bin/sam deploy --config-env $(ENV)

# The template, expanded by SAM's transform and created on moto's CloudFormation, offline.
cfn-check: .venv-deploy/.installed venv
	mkdir -p .build
	AWS_DEFAULT_REGION=ap-northeast-1 .venv-deploy/bin/python infra/local/cfn_check.py expand > .build/cfn.json
	$(VENV)/bin/python -W ignore infra/local/cfn_check.py create .build/cfn.json

# `sam validate --lint` of the template, offline.
validate: .venv-deploy/.installed
	SAM_CLI_TELEMETRY=0 .venv-deploy/bin/sam validate --lint -t infra/template.yaml

bench:
	cargo bench -p smartpit-shared --features sheet --bench sheet_render

# 1,000 sheets a round against reportlab (in the venv) drawing the same layouts, in one run.
ROUNDS ?= 5
bench-sheets: venv tools
	cargo bench -p smartpit-shared --features sheet --bench sheet_batch -- --python $(CURDIR)/$(VENV)/bin/python --rounds $(ROUNDS)

# Reconciles a settlement file of LINES lines against its own emulator: time and calls per line.
LINES ?= 10000
bench-settlement: venv
	cargo run --release -p smartpit-local --bin settlement_bench -- --lines $(LINES)

MERCHANTS ?= 100
BILLS ?= 1000
bench-payouts: venv font-layer
	cargo run --release -p smartpit-local --bin payout_bench -- --merchants $(MERCHANTS) --bills $(BILLS)

# serde_dynamo against the hand invoice mapping (issue 18): speed on the same items, and the
# stripped release size of two probes that differ only in the mapping.
bench-item-mapping:
	cargo bench -p smartpit-shared --features dynamo-probe --bench item_mapping
	cargo build --quiet --release -p smartpit-shared --features dynamo-probe --example item_probe_hand --example item_probe_serde
	@for p in item_probe_hand item_probe_serde; do strip -o target/release/examples/$$p.stripped target/release/examples/$$p; printf '%s: %s bytes stripped\n' $$p $$(stat -c %s target/release/examples/$$p.stripped); done

# Release builds of every function binary, one at a time as `sam build` does; fails over budget.
sizes:
	bash infra/local/sizes.sh

# Builds the binaries as `make sizes` does (an over-budget one is reported, not a reason to stop).
bench-startup:
	bash infra/local/sizes.sh || echo "(a function is over its size budget: see above)"
	cargo build --quiet --release --bin hello-lambda
	cargo run --quiet --release -p smartpit-local --bin startup_bench -- --runs 20

COUNT ?= 10000
bench-cards: venv
	cargo run --release -p smartpit-local --bin cards_bench -- --count $(COUNT)

# The font layer the NotifyFunction mounts at /opt/fonts (sam build packages it).
# Field data from maintained sources, pinned in infra/data/package-lock.json (Zengin bank and
# branch codes, Japanese public holidays), written into shared/data/, which the build embeds.
# tests/field_data.rs fails when the committed files are not what the pinned packages give.
field-data:
	cd infra/data && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

font-layer: tools
	mkdir -p .build/font-layer/fonts
	cp /usr/share/fonts/truetype/vlgothic/VL-Gothic-Regular.ttf .build/font-layer/fonts/

clean:
	rm -rf target $(VENV) .local
