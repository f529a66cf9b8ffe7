# Fieldops: `make run` to try it, `make test` to prove it. Both work on a fresh Debian machine:
# missing system packages are installed with apt-get (as root, or through sudo).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# libgdal32 is what django-leaflet's GDAL lookup loads on Debian 12.
RUN_PACKAGES := python3 python3-venv libgdal32
# Tests start their own redis-server, PostgreSQL cluster and nginx (deploy/nginx.conf), drive a
# real Chromium, and extract the translatable strings with GNU gettext.
TEST_PACKAGES := $(RUN_PACKAGES) redis-server postgresql nginx chromium fonts-dejavu-core fonts-liberation gettext

# Public OpenStreetMap tiles for trying it out; tests never load tiles (settings.test).
# Production leaves these empty unless configured, so no request leaves for a third party.
RUN_TILES_URL ?= https://tile.openstreetmap.org/{z}/{x}/{y}.png
RUN_TILES_ATTRIBUTION ?= &copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors

# Installs the named Debian packages that are missing; runs `apt-get update` once, only if needed.
define apt_ensure
	@missing=""; \
	for p in $(1); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "Not a Debian system: please install$$missing yourself." >&2; exit 0; \
	fi; \
	sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo"; fi; \
	echo "Installing system packages:$$missing"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing
endef

.PHONY: help run test lint format bench screenshots system-run system-test clean

help:
	@echo "make run    install, migrate, create the demo event and serve on http://$(HOST):$(PORT)/"
	@echo "make test   install dev dependencies, lint, run every test (Redis, PostgreSQL, browser)"
	@echo "make lint   ruff check, then the import layers (lint-imports, docs/architecture.md)"
	@echo "make bench  the load benchmark (python -m bench)"
	@echo "make screenshots  the pages at phone size into docs/screenshots/ (python -m tests.screenshots)"

system-run:
	$(call apt_ensure,$(RUN_PACKAGES))

system-test:
	$(call apt_ensure,$(TEST_PACKAGES))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@ $(VENV)/.installed-run

run: export MAP_TILES_URL ?= $(RUN_TILES_URL)
run: export MAP_TILES_ATTRIBUTION ?= $(RUN_TILES_ATTRIBUTION)
run: export PUBLIC_URL ?= http://$(HOST):$(PORT)
run: system-run $(VENV)/.installed-run
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py collectstatic --noinput -v0
	@echo
	@$(BIN)/python manage.py demo
	@echo
	@echo "Open the organizer link above in a browser (or the admin login to see the map)."
	@echo "Serving on http://$(HOST):$(PORT)/ - stop with Ctrl-C."
	@# Web Push signs with a VAPID key made on the first run and kept in var/ (never committed);
	@# a VAPID_PRIVATE_KEY from the environment wins.
	@test -s var/vapid-private.key || (umask 077 && $(BIN)/python manage.py vapid_key > var/vapid-private.key)
	@# The overdue watch and the push loop run inside the worker (docs/safety.md). No access log:
	@# invite codes are part of /join/ paths and must not land in a log.
	@# uvicorn as deploy/worker starts it (the faster server, docs/performance.md), on $(HOST):$(PORT).
	VAPID_PRIVATE_KEY="$${VAPID_PRIVATE_KEY:-$$(cat var/vapid-private.key)}" \
	  $(BIN)/uvicorn fieldops.asgi:application --host $(HOST) --port $(PORT) \
	  --ws realtime.sansio:SocketProtocol --ws-per-message-deflate false --no-access-log

# Tests pick their own database and services: a DATABASE_URL or REDIS_URL from the shell would
# point them at real data. They run in TEST_PROCESSES processes (pytest-xdist), each taking whole
# modules, so a module's servers start once; most of a test's time is spent waiting on them.
TEST_PROCESSES ?= 2
test: system-test $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache --no-logo
	env -u DATABASE_URL -u REDIS_URL -u DJANGO_SETTINGS_MODULE $(BIN)/python -m pytest -q \
	  -n $(TEST_PROCESSES) --dist loadfile tests/

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache --no-logo

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .

bench: system-test $(VENV)/.installed-dev
	$(BIN)/python -m bench

# Its own demo server and Chromium, like the browser tests; the only thing that writes docs/screenshots/.
screenshots: system-test $(VENV)/.installed-dev
	env -u DATABASE_URL -u REDIS_URL -u DJANGO_SETTINGS_MODULE $(BIN)/python -m tests.screenshots

clean:
	rm -rf $(VENV) var/static .pytest_cache .ruff_cache
