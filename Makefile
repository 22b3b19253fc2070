# The two commands: `make demo` and `make test`. Both install what they need first (as root on Debian).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := dovecot-imapd dovecot-pop3d dovecot-lmtpd

.PHONY: setup system-packages test lint typecheck pytest demo bench clean

setup: system-packages $(VENV)/.installed node_modules/.installed

system-packages:
	@if ! command -v dovecot >/dev/null || ! command -v npm >/dev/null; then \
		echo "installing Debian packages: $(APT_PACKAGES) nodejs npm"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) \
			$$(command -v npm >/dev/null || echo nodejs npm) >/dev/null; \
	fi

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy sync devstack tests function_app.py

pytest: setup
	$(PY) -m pytest

test: lint typecheck pytest

demo: setup
	$(PY) -m devstack.demo

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
