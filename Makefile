# `make run` starts the app on its embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-fast bench audit chromium sample-video clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUNTIME_STAMP): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

run: $(RUNTIME_STAMP) sample-video
	$(PY) -m secmlops_core serve

# The sample street camera (data/video/vtest.avi, from Debian's opencv-doc); optional.
sample-video:
	@scripts/fetch_sample_video.sh data/video/vtest.avi

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver fonts-dejavu-core; }

audit: $(DEV_STAMP)
	$(PY) scripts/dependency_audit.py

test: $(DEV_STAMP) chromium sample-video audit
	$(PY) -m pytest -q --timeout=900 tests

test-fast: $(DEV_STAMP)
	$(PY) -m pytest -q -m "not e2e and not slow" tests

bench: $(DEV_STAMP) sample-video
	@for script in tests/bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
