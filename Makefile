# The two commands of the README:
#   make demo   installs what is missing, builds, and runs the demo on the bundled example data
#   make test   installs what is missing, builds, and runs every test (CI runs this: .ci/run)
# and, not part of the README's set-up:
#   make bench    the benchmarks of docs/benchmarks.md that need no ../shared assets (about 10 min
#                 after the build)
#   make package  builds and writes the Debian package with CPack (build/dpo_*.deb); see the
#                 "Install" section of README.md
#   make fuzz     builds the libFuzzer harnesses (clang, build-fuzz/) and runs each parser's for
#                 FUZZ_SECONDS (default 600) on a seed corpus; docs/reliability.md
#   make oracle   creates .venv-oracle (tools/oracle/setup.sh): the pinned Python tokenizers,
#                 transformers and torch that golden fixtures and parity tests compare with
#   make torch-build  the second build: a virtual environment with the torch pinned in
#                 tools/torch/requirements.txt (.venv-torch; TORCH_PYTHON=python3 uses your own
#                 torch instead), build-torch/ configured with its CMake config (CUDA compiled in)
#   make torch-test   the whole test suite from build-torch/ (on the CPU without a GPU): CI runs it
#   make torch-demo   the demo from build-torch/, training on DEMO_DEVICE (default cuda) in bf16
#   make bundle   the device bundle (tools/gpu/bundle.sh): .bundle/ and .bundle.tar.xz from
#                 build-torch/, for a GPU machine without a registry (tools/gpu/README.md)
#   make fuzz-smoke  the same for FUZZ_SMOKE_SECONDS (default 30) per harness: CI runs it after
#                 `make test`
#   make peers    dpo side by side with TRL's DPOTrainer (tools/peers/compare_trl.py): creates
#                 .venv-peers (tools/peers/setup.sh), prints the equality verdicts (docs/parity.md)
#                 and the speed and memory table (docs/benchmarks.md); about 25 min on 2 busy cores
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test bench package fuzz fuzz-smoke oracle peers torch-build torch-test torch-demo bundle clean

all: build

deps:
	tools/install_deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	tools/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

bench: build
	tools/install_deps.sh sentencepiece
	$(BUILD)/tools/bench_validate
	tools/bench_startup.py --build $(BUILD)
	$(BUILD)/tools/bench_prepare --repeat 10
	$(BUILD)/tools/bench_forward --presets tiny,small --runtime plain
	$(BUILD)/tools/bench_forward --presets tiny,small --runtime tuned
	$(BUILD)/tools/bench_train --preset tiny --steps 20
	$(BUILD)/tools/bench_train --preset small --steps 20
	tools/bench_allocator.py --build $(BUILD)

FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 30

fuzz: build
	tools/install_deps.sh clang libclang-rt-dev
	BUILD=$(BUILD) tools/fuzz.sh --seconds $(FUZZ_SECONDS) --jobs $(JOBS)

fuzz-smoke: build
	tools/install_deps.sh clang libclang-rt-dev
	BUILD=$(BUILD) tools/fuzz.sh --seconds $(FUZZ_SMOKE_SECONDS) --jobs $(JOBS)

oracle:
	tools/oracle/setup.sh .venv-oracle

peers: build
	tools/peers/setup.sh .venv-peers
	.venv-peers/bin/python3 tools/peers/compare_trl.py all --build $(BUILD)

TORCH_BUILD ?= build-torch

torch-build: deps
	JOBS=$(JOBS) tools/torch/build.sh $(TORCH_BUILD)

torch-test: torch-build
	cd $(TORCH_BUILD) && ctest --output-on-failure -j$(JOBS)

DEMO_DEVICE ?= cuda

bundle: torch-build
	JOBS=$(JOBS) tools/gpu/bundle.sh $(TORCH_BUILD) .bundle

torch-demo: torch-build
	DEMO_DEVICE=$(DEMO_DEVICE) tools/demo.sh $(TORCH_BUILD)

package: build
	cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD) $(TORCH_BUILD) build-fuzz demo-out fuzz-out .bundle .bundle.tar.xz
