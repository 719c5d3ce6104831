# Two commands: `make demo` (the kit's main job) and `make test` (the test suite).
# Each installs what it needs into the active Python environment first (once).
PYTHON ?= python3
# nbgrader runs `alembic` as a program: the environment's bin/ must be on PATH.
PYBIN := $(shell $(PYTHON) -c 'import os, sys; print(os.path.dirname(sys.executable))')
export PATH := $(PYBIN):$(PATH)
export MPLBACKEND ?= Agg

.PHONY: deps test demo benchmarks lint clean

deps:
	@$(PYTHON) tools/ensure_deps.py

test: deps
	$(PYTHON) -m pytest

demo: deps
	$(PYTHON) -m cs182meta info
	$(PYTHON) -m cs182meta episode --out build/demo/episode.png

benchmarks: deps
	$(PYTHON) benchmarks/episodes.py

lint: deps
	$(PYTHON) -m ruff check cs182meta tests benchmarks tools

clean:
	rm -rf build .pytest_cache
