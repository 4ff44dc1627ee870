# One command to set up and start the app, one to set up and run the tests.
# The venv lives in .venv; it is (re)installed only when pyproject.toml changes.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) (Python 3.11); set PYTHON=..."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m artannot gui resources/sample_collection

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(STAMP)
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

lint: $(STAMP)
	$(PY) -m pip install --quiet ruff
	$(PY) -m ruff check artannot tests bench
	$(PY) -m pytest -q tests/test_architecture.py

clean:
	rm -rf $(VENV) build dist *.egg-info
