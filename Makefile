# Set-up and the two commands the README starts with. Everything installs into .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: install chromium serve demo test bench-locomo clean

# GraphiQL's browser files come from npm (pinned, hash-checked), not a CDN: see
# alma_graph/api/graphiql.py. A no-op once they are in place.
install: $(VENV)/.installed
	$(PY) -m alma_graph.api.graphiql install

# torch first, pinned: 2.13.0 is the CPU build; an unpinned torch pulled in by
# sentence-transformers would bring gigabytes of CUDA packages.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e '.[local,test,bench]'
	touch $@

# The main job: the GraphQL API on embedded Kuzu, with a LoCoMo conversation loaded on first run.
# --insecure (no API keys) binds to loopback only; see the README for keys.
serve: install
	test -d alma_graph_data || $(VENV)/bin/alma-graph demo
	$(VENV)/bin/alma-graph serve --insecure

demo: install
	$(VENV)/bin/alma-graph demo

# Debian's chromium for the browser tests (tests/browser.py); playwright's own download is never used.
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

test: install chromium
	$(PY) -m pytest -q

bench-locomo: install
	$(PY) benchmarks/locomo/run.py --data ../shared/data/locomo/*.json --json benchmarks/results/locomo.json

clean:
	rm -rf $(VENV) alma_graph_data .pytest_cache
