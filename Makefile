# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-compare install clean fuzz

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/testimony demo

# On every core (pytest-xdist): the secrets sweep of tests/conftest.py gathers what each
# worker found, so a leak in any worker fails the run.
test: $(STAMP)
	$(BIN)/pytest tests benchmarks --benchmark-disable -n auto

# The timed benchmarks: pytest-benchmark's JSON in benchmarks/results.json, then the short
# table of what matters (MB/s and the figures each benchmark records).
bench: $(STAMP)
	$(BIN)/pytest benchmarks --benchmark-only --benchmark-json=benchmarks/results.json
	$(BIN)/python benchmarks/report.py benchmarks/results.json

bench-compare: $(STAMP)
	$(BIN)/python -m benchmarks.compare

# Every atheris harness in tests/fuzz/, one after another, FUZZ_SECONDS each, from the
# seed corpus (left unchanged); prints the executions of each. `make fuzz FUZZ_SECONDS=600`
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz.run --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .benchmarks
