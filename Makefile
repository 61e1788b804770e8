# The two commands a user needs: `make up` runs kstock, `make test` tests it.
# Each creates .venv with the project installed when it is missing or stale.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint typecheck install clean browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/kstock up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy over every root in one run, configured in pyproject.toml: strict for the core layer (kstock),
# check_untyped_defs for the streamer, the local cloud and the Lambda code.
typecheck: $(STAMP)
	$(BIN)/mypy layers/core/python/kstock streamer/kstock_streamer local/kstock_local functions/app.py functions/chalicelib

# The live-page tests drive headless Chromium: install Debian's package (and a Korean font, so
# screenshots show Hangul) when it is missing and we may (root with apt-get, as in CI); otherwise
# those tests are skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum >/dev/null; } || \
		echo "chromium is not installed: the live-page tests will be skipped"

# Deploy tools, each in its own venv: checkov pins boto3 1.35, networkx<2.7 and packaging<24, aws-sam-cli
# pins boto3 1.43, pydantic and click; in .venv they would hold back the project's versions (and they
# cannot share one venv either). tests/integration/test_template_tools.py runs them; a new version reinstalls.
TOOLS := .venv-tools
CHECKOV_VERSION := 3.3.30
SAM_CLI_VERSION := 1.170.0

.PHONY: tools deploy-check

$(TOOLS)/checkov/.installed-$(CHECKOV_VERSION):
	@test -x $(TOOLS)/checkov/bin/python || $(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	@rm -f $(TOOLS)/checkov/.installed-* && touch $@

$(TOOLS)/sam/.installed-$(SAM_CLI_VERSION):
	@test -x $(TOOLS)/sam/bin/python || $(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/python -m pip install --quiet 'aws-sam-cli==$(SAM_CLI_VERSION)'
	@rm -f $(TOOLS)/sam/.installed-* && touch $@

tools: $(TOOLS)/checkov/.installed-$(CHECKOV_VERSION) $(TOOLS)/sam/.installed-$(SAM_CLI_VERSION)

# The template's checks before a deploy: cfn-lint, sam validate --lint, checkov, and `sam build` (no container:
# python3.11 and make on PATH; the core layer's dependencies from the package index, 1-3 minutes), which
# `make test` runs too unless KSTOCK_SAM_BUILD=0. The image functions are built with docker (README).
deploy-check: $(STAMP) tools
	KSTOCK_SAM_BUILD=1 $(BIN)/python -m pytest tests/unit/test_template.py tests/unit/test_template_deploy.py \
		tests/integration/test_template_tools.py

test: $(STAMP) browser tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The unit room alone (tests/unit: no servers, no sockets), in seconds: the edit-test loop.
.PHONY: test-fast
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m unit tests/unit $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache
