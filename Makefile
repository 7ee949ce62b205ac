# The two commands of the README:
#   make demo   installs what is missing, builds, and runs the demo on the bundled example data
#   make test   installs what is missing, builds, and runs every test (CI runs this: .ci/run)
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test bench clean

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

clean:
	rm -rf $(BUILD) demo-out
