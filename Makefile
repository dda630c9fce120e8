# Luna: `make up` runs it, `make test` tests it. Everything else is below.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
SERVICE ?=
ARGS ?=
# Debian packages the services and tests use (PortAudio for sounddevice; PulseAudio,
# espeak-ng, sox and tmux for the real-audio and terminal tests).
APT_PACKAGES := libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins espeak-ng sox tmux strace iproute2 util-linux

.PHONY: help install system-deps up down status restart logs tap test lint bench check models clean

help:
	@echo "make up        start every service and open the Luna UI"
	@echo "make test      run the test suite"
	@echo "make down | status | restart SERVICE=stt | logs [SERVICE=stt] | tap [ARGS='-t token'] | bench | check | models"

# Debian packages: installed when missing and we may (root with apt-get), otherwise a hint.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note: missing Debian packages:$$missing (sudo apt-get install$$missing); audio devices stay off without libportaudio2"; fi; \
	fi

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Idempotent: re-runs pip only when pyproject.toml changed. llama-cpp-python builds
# from source once (about 4 minutes); GGML_NATIVE=OFF keeps the wheel portable.
$(STAMP): pyproject.toml | $(BIN)/python
	CMAKE_ARGS="$${CMAKE_ARGS:--DGGML_NATIVE=OFF}" $(BIN)/pip install -q -e '.[dev,embedded]'
	# silero-vad's package pulls in torch; Luna only needs its bundled ONNX file.
	$(BIN)/pip install -q --no-deps 'silero-vad>=5.1'
	@touch $(STAMP)

install: system-deps $(STAMP)

check: install
	@$(BIN)/luna check

# Fetch the configured Whisper model, Piper voice and Ollama models (make up does this too).
models: install
	@$(BIN)/luna models

up: install
	@$(BIN)/luna up

down:
	@$(BIN)/luna down

status:
	@$(BIN)/luna status

restart:
	@test -n "$(SERVICE)" || (echo "usage: make restart SERVICE=stt"; exit 2)
	@$(BIN)/luna restart $(SERVICE)

logs:
	@$(BIN)/luna logs $(SERVICE) $(ARGS)

tap:
	@$(BIN)/luna tap $(ARGS)

lint: install
	$(BIN)/ruff check shared services tests bench

test: install lint
	$(BIN)/python -m pytest -q $(ARGS)

bench: install
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
