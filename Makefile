# Set-up and the two commands the README starts with. Everything installs into .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: install demo test bench-locomo clean

install: $(VENV)/.installed

# torch first, pinned: 2.13.0 is the CPU build; an unpinned torch pulled in by
# sentence-transformers would bring gigabytes of CUDA packages.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e '.[local,test,bench]'
	touch $@

demo: install
	$(VENV)/bin/alma-graph demo

test: install
	$(PY) -m pytest -q

bench-locomo: install
	$(PY) benchmarks/locomo/run.py --data ../shared/data/locomo/*.json --json benchmarks/results/locomo.json

clean:
	rm -rf $(VENV) alma_graph_data .pytest_cache
