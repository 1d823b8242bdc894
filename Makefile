# The two commands a new machine needs:  make demo  ·  make test
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install run bench clean cluster

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "需要 Python 3.11（$(PY)）"; exit 2; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hazardloop init
	$(BIN)/hazardloop demo $(DEMO_ARGS)

run: $(STAMP)
	$(BIN)/hazardloop init
	$(BIN)/hazardloop serve

# The multi-process layout on this machine (docs/cluster.md): Prefect server on PostgreSQL, workers,
# uvicorn with several web workers, a dispatcher; Ctrl-C stops all of it.
cluster: $(STAMP)
	$(BIN)/python -m hazardloop.flows.cluster $(CLUSTER_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/transitions.py --hazards 10000

clean:
	rm -rf var .pytest_cache .hypothesis
