# `make demo` and `make test` work on a fresh machine: each installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
DEBIAN_PACKAGES := ffmpeg espeak-ng
TEST_DEBIAN_PACKAGES := chromium  # the UI test drives Debian's Chromium headless

.PHONY: install system-deps test test-unit demo dev serve bench clean

install: system-deps $(STAMP)

system-deps:
	@bash .ci/install-system-deps.sh $(DEBIAN_PACKAGES)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

test: install
	@bash .ci/install-system-deps.sh $(TEST_DEBIAN_PACKAGES)
	$(BIN)/python -m pytest -q

test-unit: install  # under a minute: no Postgres, no models
	$(BIN)/python -m pytest -q tests/unit

demo: install
	$(BIN)/ytingest demo

dev: install
	$(BIN)/ytingest dev

serve: install  # the archive in a browser on http://127.0.0.1:8080
	$(BIN)/ytingest serve

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache
