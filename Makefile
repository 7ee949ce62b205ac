# The two commands of the README:
#   make demo   installs what is missing, builds, and runs the demo on the bundled example data
#   make test   installs what is missing, builds, and runs every test (CI runs this: .ci/run)
# and, not part of the README's set-up:
#   make bench    the benchmarks of docs/benchmarks.md that need no ../shared assets (about 3 min
#                 after the build)
#   make package  builds and writes the Debian package with CPack (build/dpo_*.deb); see the
#                 "Install" section of README.md
#   make fuzz     builds the libFuzzer harnesses (clang, build-fuzz/) and runs each parser's for
#                 FUZZ_SECONDS (default 600) on a seed corpus; docs/reliability.md
#   make oracle   creates .venv-oracle (tools/oracle/setup.sh): the pinned Python tokenizers,
#                 transformers and torch that golden fixtures and parity tests compare with
#   make fuzz-smoke  the same for FUZZ_SMOKE_SECONDS (default 30) per harness: CI runs it after
#                 `make test`
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test bench package fuzz fuzz-smoke oracle clean

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

package: build
	cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD) build-fuzz demo-out fuzz-out
