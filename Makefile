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

# Install progress: one line per phase in the user's language (LANGUAGE=en for English), then
# pip's own output (what it downloads, with bars, and which wheel it builds), never -q silence.
ifeq ($(LANGUAGE),en)
MSG_VENV := [1/3] creating the Python environment ($(VENV))...
MSG_DEPS := [2/3] installing dependencies with pip...
MSG_VAD := [3/3] installing the voice activity detector (silero-vad, its ONNX file only)...
MSG_READY := the UI can start (make up); packages installed in
MSG_DONE := everything installed, llama.cpp included, in
else
MSG_VENV := [1/3] criando o ambiente Python ($(VENV))…
MSG_DEPS := [2/3] instalando dependências com o pip…
MSG_VAD := [3/3] instalando o detector de voz (silero-vad, só o arquivo ONNX)…
MSG_READY := a interface já pode abrir (make up); pacotes instalados em
MSG_DONE := tudo instalado, llama.cpp incluído, em
endif

$(BIN)/python:
	@echo "$(MSG_VENV)"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Idempotent: re-runs pip only when pyproject.toml changed. llama-cpp-python (the embedded
# brain) compiles from source for minutes on 2 cores, so shared/llama_build.py builds its wheel
# in the background while pip installs everything else, and installs it once that is done.
# $(STAMP) is "the UI can start" (make up goes on from there, and the brain says it is preparing
# the local model); $(LLAMA_STAMP) is "the whole install" (make install, test and bench wait for it,
# showing ninja's step count). The wheel is kept in .venv/wheels for reinstalls.
LLAMA_STAMP := $(VENV)/.llama-stamp
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "$(MSG_DEPS)"; date +%s > $(VENV)/.install-start; rm -f $(VENV)/.deps-failed
	@$(BIN)/python -m shared.llama_build start
	$(BIN)/pip install --progress-bar on -e '.[dev]' || { touch $(VENV)/.deps-failed; exit 1; }
	@echo "$(MSG_VAD)"
	# silero-vad's package pulls in torch; Luna only needs its bundled ONNX file.
	$(BIN)/pip install --progress-bar on --no-deps 'silero-vad>=5.1' || { touch $(VENV)/.deps-failed; exit 1; }
	@echo "$(MSG_READY) $$(( $$(date +%s) - $$(cat $(VENV)/.install-start) )) s"
	@touch $(STAMP)

$(LLAMA_STAMP): $(STAMP)
	@$(BIN)/python -m shared.llama_build wait
	@echo "$(MSG_DONE) $$(( $$(date +%s) - $$(cat $(VENV)/.install-start) )) s"
	@touch $(LLAMA_STAMP)

# smart-turn v3 (end of turn, BSD-2): only its ONNX file, taken from the pipecat-ai wheel
# (pip download --no-deps, none of pipecat's dependencies), sha256-checked; missing = silence rule.
SMART_TURN := $(VENV)/share/luna/smart-turn-v3.2-cpu.onnx
$(SMART_TURN): | $(STAMP)
	-$(BIN)/python -m services.stt.endofturn --fetch

install: system-deps $(STAMP) $(SMART_TURN) $(LLAMA_STAMP)

check: install
	@$(BIN)/luna check

# Fetch the configured Whisper model, Piper voice and Ollama models (make up does this too).
models: install
	@$(BIN)/luna models

# The UI opens once the packages are in; llama.cpp may still be compiling (the brain says so).
up: system-deps $(STAMP) $(SMART_TURN)
	@$(BIN)/python -m shared.llama_build start-if-missing
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
	$(BIN)/ruff check luna shared services tests bench

# The tests that failed run once more in a fresh process (--last-failed), and that verdict
# counts: the whole-suite process shares caches (synthesized speech, loaded voices) between
# tests, and on 2 cores a few timing-bound voice tests depend on what ran before them.
# A test that fails twice fails the build; both runs' failures stay in the log.
test: install lint
	@$(BIN)/python -m pytest -q $(ARGS) || { echo "rerunning the failed tests alone in a fresh process"; \
	  $(BIN)/python -m pytest -q --last-failed --last-failed-no-failures none $(ARGS); }

bench: install
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
