# Two entry points on a fresh machine:  `make demo`  and  `make test`.
# torch is installed first, pinned, so that pip takes the local CPU wheel and never
# resolves a multi-GB CUDA build.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install -q --disable-pip-version-check
DEMO   ?= sample_out

.PHONY: demo test setup-core setup-all clean mutate

$(VENV)/.core: setup.py
	python3 -m venv $(VENV)
	$(PIP) -e .
	touch $@

$(VENV)/.all: setup.py $(VENV)/.core
	$(PIP) torch==2.13.0
	$(PIP) -e ".[train,export,dask,report,test,s3]"
	$(PIP) --no-deps paddleocr==2.10.0
	$(PIP) --no-deps mmocr==1.0.1 mmengine==0.10.7 mmcv-lite==2.1.0
	touch $@

setup-core: $(VENV)/.core
setup-all: $(VENV)/.all

demo: $(VENV)/.core
	rm -rf sample_src
	$(VENV)/bin/dataconv fixture aihub-htr -n 300 -o sample_src
	$(VENV)/bin/dataconv aihub --type htr -i sample_src -o $(DEMO) --overwrite

# Two test processes (pytest-xdist): CI's machine has 2 cores, and most tests wait on
# their own subprocesses part of the time. Timing assertions compare runs side by side.
test: $(VENV)/.all
	$(VENV)/bin/pytest -q -p no:cacheprovider -n 2 --dist loadscope tests

# Not in CI. mutmut rewrites MODULE in place: run it in a checkout no one else uses
# (docs/DEVELOPING.md, "Mutation testing"). TESTS: the tests that cover MODULE.
mutate: $(VENV)/.all
	$(PIP) 'mutmut<3'
	$(VENV)/bin/mutmut run --paths-to-mutate $(MODULE) --tests-dir tests --no-progress \
	  --runner "$(VENV)/bin/pytest -x -q -p no:cacheprovider $(TESTS)" || true
	$(VENV)/bin/mutmut results

clean:
	rm -rf sample_src $(DEMO) build *.egg-info
