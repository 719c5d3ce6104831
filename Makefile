# Two commands: `make demo` (the kit's main job) and `make test` (the test suite).
# Each installs what it needs into the active Python environment first (once).
PYTHON ?= python3
# nbgrader runs `alembic` as a program: the environment's bin/ must be on PATH.
PYBIN := $(shell $(PYTHON) -c 'import os, sys; print(os.path.dirname(sys.executable))')
export PATH := $(PYBIN):$(PATH)
export MPLBACKEND ?= Agg

.PHONY: deps test demo notebooks release autograde feedback export report lab screenshots benchmarks mutation corpus lint clean

deps:
	@$(PYTHON) tools/ensure_deps.py

test: deps
	$(PYTHON) -m pytest

# The main job: release every notebook, autograde sample submissions (perfect, blank and
# the first planted bug of each notebook; `make demo BUGS=all` grades every planted bug, as
# `make test` does), print the score table, write feedback, grades and the class report.
# Grading refuses to run student code without bubblewrap; `make demo UNCONFINED=1` (or
# `autograde --unconfined`) grades anyway, and every output says so.
BUGS ?= one
UNCONFINED_FLAG = $(if $(UNCONFINED),--unconfined)
demo: deps
	$(PYTHON) -m cs182meta info
	$(PYTHON) -m autograder demo --bugs $(BUGS) $(UNCONFINED_FLAG)
	$(PYTHON) -m cs182meta episode --out build/demo/episode.png

notebooks: deps
	$(PYTHON) -m autograder build

# Every notebook that can go out now; 04_families shows 02's and 03's solutions and waits
# for `make release PAST_DUE=02_nonparametric,03_maml` (after their deadlines).
PAST_DUE ?=
release: deps
	$(PYTHON) -m autograder release $(if $(PAST_DUE),--past-due $(PAST_DUE))

# make autograde SUBMISSIONS=path/to/folder-or.zip
autograde: deps
	@test -n "$(SUBMISSIONS)" || { echo "usage: make autograde SUBMISSIONS=folder-or-zip"; exit 2; }
	$(PYTHON) -m autograder autograde "$(SUBMISSIONS)" $(UNCONFINED_FLAG)

feedback: deps
	$(PYTHON) -m autograder feedback

export: deps
	$(PYTHON) -m autograder export --to build/grades.csv

# The class report: what the class got wrong (build/course/reports/NN_name.html and .csv).
report: deps
	$(PYTHON) -m autograder report

# JupyterLab in the course folder (released first if it is not), with nbgrader's
# extensions: Validate in each notebook's toolbar, the formgrader at /formgrader.
# Prints the URLs; --allow-root only when run as root. MPLBACKEND (Agg, above) is
# dropped for the server, so that notebooks plot inline.
COURSE ?= build/course
lab: deps
	@test -d "$(COURSE)/release" || $(PYTHON) -m autograder --course "$(COURSE)" release $(if $(PAST_DUE),--past-due $(PAST_DUE))
	$(PYTHON) -m autograder.lab --course "$(COURSE)"

# The pictures in docs/screenshots/ (README), from the browser tests' own flows.
screenshots: deps
	$(PYTHON) tools/screenshots.py

benchmarks: deps
	$(PYTHON) benchmarks/episodes.py
	$(PYTHON) -m pip install -q higher  # compared against in maml_speed.py only
	$(PYTHON) benchmarks/maml_speed.py

# Mutation analysis of every exercise (a benchmark, ~20 min on 2 cores; not in `make test`).
mutation: deps
	$(PYTHON) -m autograder mutate --out build/mutation.json

# Correct alternatives must pass the tests, conceptual mistakes fail them (~1 min; also in `make test`).
corpus: deps
	$(PYTHON) -m autograder corpus

lint: deps
	$(PYTHON) -m ruff check cs182meta autograder notebooks tests benchmarks tools

clean:
	rm -rf build .pytest_cache
