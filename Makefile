# Two commands matter: `make demo` and `make test`. Both create or reuse .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint stress fuzz bench screenshots clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,http]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/durable --store sqlite:///.durable/demo.db run examples.order:handler --input '{"order_id": "A-1001", "items": 3}'

test: $(STAMP)
	$(BIN)/python -m pytest -m "not stress"

stress: $(STAMP)
	$(BIN)/python -m pytest -m stress

fuzz: $(STAMP)
	DURABLE_FUZZ_EXAMPLES=$${DURABLE_FUZZ_EXAMPLES:-2000} $(BIN)/python -m pytest tests/unit/test_api_fuzz.py -p no:randomly

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	for b in steps executions replay invoke callbacks dispatch isolation; do $(BIN)/python -m benchmarks.$$b || exit 1; done

# A PNG of each console page (needs Debian's chromium and chromium-driver).
screenshots: $(STAMP)
	$(BIN)/python -m tests.console.screenshots --out docs/screenshots

clean:
	rm -rf $(VENV) .durable build *.egg-info
