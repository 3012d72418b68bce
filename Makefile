# make run   set up .venv if needed, run every notebook at its defaults into runs/latest (two at once, a core each;
#            WORKERS=1: one at a time on every core)
# make test  set up .venv if needed, run the unit tests and every notebook in smoke mode
# make lab   open JupyterLab on notebooks/ with the project's kernel (also as root, as in containers)
# make params  rewrite each notebook's parameters cell from its params class (gancore/experiments/)
# With a conda environment active (conda env create -f environment.yml && conda activate gancore), make
# installs into and runs from it instead of building a second environment in .venv; conda's base
# environment is never used. VENV=.venv on the command line builds .venv all the same.
ifneq ($(filter-out base,$(CONDA_DEFAULT_ENV)),)
ifneq ($(CONDA_PREFIX),)
VENV   ?= $(CONDA_PREFIX)
endif
endif
VENV   ?= .venv
PYTHON ?= python3
# The pinned wheels lie on the project's build machines' local disk; override TORCH to use another build.
TORCH  ?= torch==2.14.1 torchvision==0.29.1
# Where pip finds torch: empty (the default) uses pip's own index and local wheels, which works offline on
# the build machines. Without a GPU, PyTorch's CPU-only wheels are far smaller (no CUDA libraries):
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
# Upper bounds for the libraries whose internals gancore uses (see the file), so a semester's installs agree.
CONSTRAINTS ?= constraints.txt
# The Jupyter kernel make setup installs into the environment, and its name in Jupyter's menus.
KERNEL ?= gancore
PY     := $(VENV)/bin/python
# Two notebooks side by side on one thread each finish the series sooner on two cores than one at a time on
# two threads: a second thread speeds a training step up by far less than 2x (bench/bench_step_speed.py).
WORKERS ?= 2
# make test spreads test files over one pytest process per core (pytest-xdist); a notebook's nbval cells
# stay in one process, in order (--dist loadfile). TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= auto
STAMP  := $(VENV)/.gancore-installed
# JupyterLab refuses to start as root without --allow-root; containers and CI machines run as root.
LAB_AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: setup run test lab bench params clean-runs

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c $(CONSTRAINTS) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) $(TORCH)
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python 3 ($(KERNEL))" >/dev/null
	touch $(STAMP)

run: setup
	$(PY) -m gancore.batch --out runs/latest --workers $(WORKERS)

test: setup
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --nbval-lax tests notebooks

# The server's root is the project, so that runs/ opens in the same JupyterLab; it starts in notebooks/.
lab: setup
	@if [ -d runs/latest ]; then \
	  echo "Results of the last full run (make run) are in runs/latest/<notebook>/: open <notebook>.html in any"; \
	  echo "browser (no network needed), or <notebook>.ipynb from this JupyterLab's file browser (runs/latest/)."; \
	else echo "No full run yet: make run writes every notebook's results (executed notebook, HTML) to runs/latest/."; fi
	$(VENV)/bin/jupyter lab --notebook-dir=. --LabApp.default_url=/lab/tree/notebooks $(LAB_AS_ROOT)

bench: setup
	$(PY) bench/bench_mnist.py
	$(PY) bench/bench_style.py
	$(PY) bench/bench_metrics.py

params: setup
	$(PY) -m gancore.workbook.params

clean-runs:
	rm -rf runs/
