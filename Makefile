# The README's two commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := notebooks,test

.PHONY: setup demo test bench golden lab clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: setup
	$(BIN)/simlib batch data/batches/demo.yaml

test: setup
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && $(MAKE) --no-print-directory browser; } \
		|| echo "note: no Chromium, so the browser tests of the reports will be skipped; 'make browser' installs it"
	$(BIN)/python -m ruff check simlib tests benchmarks
	$(BIN)/python -m mypy simlib
	$(BIN)/python -m pytest

# The browser tests (tests/test_browser.py) need Debian's Chromium and its driver; without them
# they are skipped, naming this target. One command on a fresh Debian machine: make browser
# (make test runs it by itself when Chromium is missing and it runs as root).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq chromium chromium-driver fonts-dejavu-core fonts-ipafont-gothic

bench: setup
	$(BIN)/simlib bench

# Rewrite tests/golden/ from the current code: only for a change meant to move results.
golden: setup
	$(BIN)/python tests/golden/golden.py --refresh

lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks

clean:
	rm -rf $(VENV) reports/*/ .pytest_cache .ruff_cache
