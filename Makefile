# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-compare install clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/testimony demo

test: $(STAMP)
	$(BIN)/pytest tests benchmarks --benchmark-disable

bench: $(STAMP)
	$(BIN)/pytest benchmarks --benchmark-only --benchmark-json=benchmarks/results.json

bench-compare: $(STAMP)
	$(BIN)/python -m benchmarks.compare

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .benchmarks
