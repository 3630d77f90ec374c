# Two commands: `make demo` (the main job on the embedded data) and `make test`.
# Each installs what it needs (Debian packages where missing, Python packages into .venv)
# and is safe to run again.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test test-slow system clean

# Corpora, two time-budgeted trainings, decoding (the real-speech sets too: their recordings
# are Debian packages, installed here), latency benchmarks, exp/demo/report.md
# (see demo/run.py; DEMO_ARGS e.g. "--asr-minutes 10 --nmt-minutes 10" or "--fresh").
demo: $(INSTALLED)
	@bash scripts/install_system_packages.sh real-speech
	$(BIN)/python -m demo $(DEMO_ARGS)

test: $(INSTALLED)
	$(BIN)/pytest

test-slow: $(INSTALLED)
	$(BIN)/pytest -m slow

system:
	@bash scripts/install_system_packages.sh

$(INSTALLED): pyproject.toml
	@bash scripts/install_system_packages.sh
	@test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,peers]'
	@touch $@

clean:
	rm -rf $(VENV) exp
