# The commands: `make dev`, `make demo` and `make test`. Each installs what it needs first (as root on Debian).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
IAC_VENV := .venv-iac
APT_PACKAGES := dovecot-imapd dovecot-pop3d dovecot-lmtpd mailutils-imap4d mailutils-pop3d openssl chromium

.PHONY: setup system-packages test lint typecheck pytest iac demo dev bench clean

setup: system-packages $(VENV)/.installed $(IAC_VENV)/.installed node_modules/.installed

system-packages:
	@if ! command -v dovecot >/dev/null || ! command -v imap4d >/dev/null || ! command -v pop3d >/dev/null \
		|| ! command -v openssl >/dev/null || ! command -v npm >/dev/null || ! command -v chromium >/dev/null; then \
		echo "installing Debian packages: $(APT_PACKAGES) nodejs npm"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) \
			$$(command -v npm >/dev/null || echo nodejs npm) >/dev/null; \
	fi

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# checkov and the Bicep parsers, in their own virtualenv (their pins must not meet the app's); tests/infra runs them.
$(IAC_VENV)/.installed: requirements-iac.txt
	test -x $(IAC_VENV)/bin/python || $(PYTHON) -m venv $(IAC_VENV)
	$(IAC_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-iac.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy sync devstack tests bench function_app.py

pytest: setup
	$(PY) -m pytest

# Only the infrastructure checks (Bicep syntax, checkov, code/infra drift); `make test` runs them too.
iac: setup
	$(PY) -m pytest tests/infra

test: lint typecheck pytest

demo: setup
	$(PY) -m devstack.demo

# The service running locally until Ctrl-C; DEV_ARGS passes options, e.g. DEV_ARGS="--api-port 8080 --no-seed".
dev: setup
	$(PY) -m devstack.dev $(DEV_ARGS)

# Benchmarks against the local stack; each prints one JSON line last (results in BENCHMARKS.md).
bench: setup
	$(PY) -m bench.ingest
	$(PY) -m bench.schedule
	$(PY) -m bench.send
	$(PY) -m bench.graph
	$(PY) -m bench.ews
	$(PY) -m bench.hostile_mime
	$(PY) -m bench.act
	$(PY) -m bench.latency
	$(PY) -m bench.summary
	$(PY) -m bench.console_grid

clean:
	rm -rf $(VENV) $(IAC_VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
