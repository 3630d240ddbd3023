# ESD Monitor: `make run` (install, migrate, demo data, web + worker) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip -q --disable-pip-version-check
export DJANGO_SETTINGS_MODULE ?= webapp.settings.base

.PHONY: run install install-system venv venv-dev migrate demo serve worker web test test-slow test-e2e fingerprint screenshots bench lint format clean

## make run: everything a fresh machine needs, then the web server (http://127.0.0.1:8000) and one worker
run: install migrate demo serve

install: install-system venv

install-system:
	bash .ci/install-system.sh base

venv: $(VENV)/.installed

# The geo wheels that link the system libraries compile two at a time while torch unpacks
# (.ci/build-native-wheels.sh), then everything installs from them and PyPI.
$(VENV)/.installed: requirements.txt .ci/build-native-wheels.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip wheel
	bash .ci/build-native-wheels.sh $(PY) var/wheels & pid=$$!; t=0; $(PIP) install torch==2.13.0 || t=1; wait $$pid && test $$t = 0
	$(PIP) install var/wheels/*.whl
	$(PIP) install -r requirements.txt
	touch $@

venv-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -r requirements-dev.txt
	touch $@

migrate: venv
	$(PY) manage.py preflight --skip-broker
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v 0

demo: venv
	$(PY) manage.py load_demo

serve: venv
	$(VENV)/bin/honcho start -f Procfile

web: venv
	$(VENV)/bin/honcho start -f Procfile web

worker: venv
	$(VENV)/bin/honcho start -f Procfile worker

## make test: the suite against PostGIS (127.0.0.1:5432) and Redis (127.0.0.1:6379), browser tests included
test: install venv-dev
	bash .ci/install-system.sh test
	DJANGO_SETTINGS_MODULE=webapp.settings.test $(PY) -m pytest $(PYTEST_ARGS)

test-slow: install venv-dev
	bash .ci/install-system.sh test
	DJANGO_SETTINGS_MODULE=webapp.settings.test $(PY) -m pytest --runslow -m slow $(PYTEST_ARGS)

## make fingerprint: rewrite tests/data/demo_fingerprint.json after an intended change of the demo results
fingerprint: install venv-dev
	DJANGO_SETTINGS_MODULE=webapp.settings.test ESD_FINGERPRINT_UPDATE=1 $(PY) -m pytest --runslow -q tests/monitoring/test_demo_fingerprint.py $(PYTEST_ARGS)

## make screenshots: rerun the browser tests and keep their screenshots in docs/screenshots (tests alone write to a temporary folder)
screenshots: install venv-dev
	bash .ci/install-system.sh test
	ESD_SCREENSHOTS=$(CURDIR)/docs/screenshots DJANGO_SETTINGS_MODULE=webapp.settings.test $(PY) -m pytest tests/e2e -m e2e --runslow $(PYTEST_ARGS)

bench: install venv-dev
	bash .ci/install-system.sh test
	bash bench/run_all.sh

## make lint: ruff, then mypy over ml/ (strict), monitoring/ tasks/ webapp/ (django-stubs), bench/ tests/ (pyproject.toml)
lint: venv-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=webapp.settings.test $(VENV)/bin/mypy

format: venv-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var/ .pytest_cache
