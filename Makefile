# eventplatform — `make run` starts everything, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Development defaults; production sets DEBUG=0 and SECRET_KEY itself.
export DEBUG ?= 1

# uv installs the Python side; a machine without it gets a private copy in state/.
UV := $(shell command -v uv 2>/dev/null || echo state/tools/bin/uv)
PY := $(UV) run --frozen python

.PHONY: help install build run test test-python test-frontend test-e2e demo migrate asyncapi messages bench clean

help:
	@echo "make run        install, build, migrate, load the demo and start web, worker and beat"
	@echo "make test       the whole test suite (Python on \$$DATABASE_URL or SQLite, frontend, browser)"
	@echo "make asyncapi   regenerate docs/protocol/asyncapi.json from the message schemas"
	@echo "make messages   update and compile the German and English translations"
	@echo "make bench      run the benchmarks in bench/"

state/tools/bin/uv:
	python3 -m venv state/tools
	state/tools/bin/pip install --quiet uv

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	touch $@

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

install: .venv/.installed frontend/node_modules/.installed

frontend/dist/index.html: frontend/node_modules/.installed $(shell find frontend/src frontend/index.html frontend/vite.config.ts -type f 2>/dev/null)
	cd frontend && npm run build

build: install frontend/dist/index.html

migrate: install
	$(PY) manage.py migrate

demo: migrate
	$(PY) manage.py demo

run: build
	bin/with-redis $(PY) manage.py stack

test: test-python test-frontend

test-python: build
	bin/with-redis $(UV) run --frozen pytest

test-frontend: install
	cd frontend && npm test

asyncapi: install
	$(PY) manage.py asyncapi

messages: install
	$(PY) manage.py makemessages -l de -l en --no-obsolete --ignore '.venv/*' --ignore 'frontend/*' --ignore 'state/*' --ignore 'tests/*' --ignore 'bench/*'
	$(PY) manage.py compilemessages

bench: build
	bin/with-redis $(PY) bench/join_storm.py

clean:
	rm -rf .venv frontend/node_modules frontend/dist staticfiles
