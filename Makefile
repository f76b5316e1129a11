# myofoc - the two commands a newcomer needs:
#   make demo   set up everything, then run the main job on the simulated plant
#   make test   set up everything, then run the whole test suite
# Other targets: setup, build, core, core-arm, ctest, codec, bench, bench-light, clean.

PYTHON_SYS ?= python3
VENV       ?= .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.installed
SYS_STAMP  := $(VENV)/.sysdeps
OUT        ?= out

CORE_SRCS  := $(wildcard actuators/core/*.c actuators/core/*.h actuators/*.pyx actuators/*.pxi \
                         actuators/plant/*.c actuators/plant/*.h actuators/plant/*.pyx \
                         actuators/simcore/*.c actuators/simcore/*.h actuators/boot/*.c actuators/boot/*.h)
EXT_STAMP  := $(VENV)/.ext-built

.PHONY: setup sysdeps build core core-arm ctest codec test test-light demo bench bench-light clean

setup: $(STAMP) $(EXT_STAMP)

# Debian packages: the ARM cross compiler, newlib and QEMU (root only).
sysdeps: $(SYS_STAMP)
$(SYS_STAMP):
	@bash tools/install_sysdeps.sh
	@mkdir -p $(VENV) && touch $@

$(STAMP): pyproject.toml setup.py | $(SYS_STAMP)
	$(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "setuptools>=64" wheel "Cython>=3.0" "numpy>=1.24"
	$(PY) -m pip install -q --no-build-isolation -e ".[dev]"
	touch $@

build: $(EXT_STAMP)
$(EXT_STAMP): $(STAMP) $(CORE_SRCS) setup.py
	$(PY) setup.py -q build_ext --inplace
	touch $@

core:
	$(MAKE) -C actuators/core host
core-arm:
	$(MAKE) -C actuators/core arm

# Regenerate the C CAN codec from the DBC (checked in; tests/protocol fails on drift).
codec: $(STAMP)
	PYTHON=$(PY) bash tools/gen_codec.sh

ctest:
	$(MAKE) -C tests/core/c run
	$(MAKE) -C tests/core/c run SAN=1

test: setup
	$(PY) -m pytest -q

test-light: setup
	MYOFOC_LIGHT=1 $(PY) -m pytest -q

demo: setup
	$(PY) -m actuators.cli hil run hil/scenarios/acceptance_arm_48v.toml --target sim --out $(OUT)/demo

bench: setup
	$(PY) -m pip install -q ".[bench]" || echo "gym-electric-motor not installed: its comparison is skipped"
	$(PY) bench/core_bench.py
	$(PY) bench/plant_bench.py
	$(PY) bench/sim_bench.py
	$(PY) bench/bus_bench.py
	$(PY) bench/firmware_bench.py
	$(PY) bench/tune_bench.py
	$(PY) bench/flash_bench.py
	$(PY) bench/hil_bench.py
	$(PY) bench/ed25519_bench.py

bench-light: setup
	$(PY) bench/core_bench.py --light
	$(PY) bench/plant_bench.py --light
	$(PY) bench/sim_bench.py --light
	$(PY) bench/bus_bench.py --light
	$(PY) bench/firmware_bench.py --light
	$(PY) bench/tune_bench.py --light
	$(PY) bench/flash_bench.py --light
	$(PY) bench/hil_bench.py --light
	$(PY) bench/ed25519_bench.py --light

clean:
	rm -rf build $(VENV) $(OUT) actuators/*.so actuators/plant/*.so actuators/_core.c actuators/_sim.c \
	       actuators/plant/_plant.c actuators/core/build tests/core/c/build
