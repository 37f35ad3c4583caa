# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test test-scale lint typecheck system-deps clean bench bench-imap

$(STAMP): pyproject.toml requirements/spacy-model.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@# the spaCy English pipeline, pinned by hash (see requirements/spacy-model.txt)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements/spacy-model.txt
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/arinbox demo

system-deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) system-deps lint typecheck
	$(BIN)/pytest

# four workers, 10,000 emails on PostgreSQL (about 20 minutes on 2 cores); `make test` runs 1,000
test-scale: $(STAMP) system-deps
	ARINBOX_SCALE_EMAILS=10000 $(BIN)/pytest -m postgres tests/integration/test_scale.py -k every_email

# the service end to end: SQLite, PostgreSQL with 1, 2 and 4 workers, memory over 20,000 emails (JSON)
bench: $(STAMP) system-deps
	$(BIN)/arinbox bench service --emails 300 --memory-emails 20000

bench-imap: $(STAMP) system-deps
	$(BIN)/python benchmarks/imap_ingest.py --messages 5000 --json

clean:
	rm -rf $(VENV) arinbox.sqlite* arinbox.checkpoints.sqlite* .arinbox-vault.key .arinbox-console.key outbox
