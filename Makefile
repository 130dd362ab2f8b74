# One command each for setup, run, test, lint. Every target creates the
# virtual environment (.venv) and installs the project first when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: setup run test test-fast lint demo bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## run: one ingestion pass over the shipped registry into warehouse/news.duckdb
run: $(STAMP)
	$(BIN)/ingest run

## test: the whole suite, end-to-end tests included
test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/ingest demo

## bench: end-to-end (1000 articles, 100 sources on a loopback news web), the
## realistic web (real pages, near-duplicate copies, 300 sources; CPU itemised
## per article), 10,000 feeds all answering 304, a quick
## scaling series, the fetcher (2,000 feeds), story clustering (10k, 100k),
## metadata fidelity on the dev set next to plain trafilatura, with its cost;
## the warehouse backends side by side (file, DuckLake on SQLite and on a
## throwaway PostgreSQL; 500 articles, 50 sources); search on 100k articles
## (index build, a run's update, query latency against plain match_bm25);
## ratios print against baselines of the same run, JSON in benchmarks/results/
bench: $(STAMP)
	$(BIN)/python benchmarks/e2e.py --articles 1000 --sources 100
	$(BIN)/python benchmarks/e2e.py --web realistic --sources 300 --copies 500 --skip-naive
	$(BIN)/python benchmarks/registry.py
	$(BIN)/python benchmarks/scaling.py --quick
	$(BIN)/python benchmarks/fetch.py
	$(BIN)/python benchmarks/dedup.py --sizes 10000,100000
	$(BIN)/python benchmarks/metadata.py --worst 0 --timing 3
	$(BIN)/python benchmarks/rights.py
	$(BIN)/python benchmarks/backends.py --articles 500 --sources 50 --results-dir benchmarks/results
	$(BIN)/python benchmarks/search.py --articles 100000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo
