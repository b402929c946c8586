# Two commands on a fresh machine:  make book  then  make test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JB := $(BIN)/jupyter-book
# Two notebooks execute at once on two cores; BLAS threads on top of that only
# oversubscribe the CPU (small matrix products ran ~10x slower under load).
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: book test pdf lint bench clean clean-all lab help translations

help:
	@echo "make book   - create .venv, install requirements.txt, execute notebooks, build _build/html (and zh/)"
	@echo "make test   - everything 'make book' and 'make pdf' do, plus test tools, then the whole test suite"
	@echo "make pdf    - the PDF editions, _build/pdf/why-sqrt-dk.pdf and -zh.pdf (no TeX: printed by Chromium)"
	@echo "make lab    - open the notebooks in JupyterLab"
	@echo "make bench  - build times, JupyterLab Run All and slider latency, page weight"
	@echo "make translations - refresh locales/ after editing the English (README, Translating)"
	@echo "make lint   - the pre-commit checks (ruff, nbstripout, codespell, YAML)"
	@echo "make clean  - remove _build (keeps .venv)"

# The runtime environment: requirements.txt only (as Binder does).
$(VENV)/.runtime: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# Test-only tools on top of the runtime environment.
$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

book: $(VENV)/.runtime
	$(BIN)/python scripts/execute-notebooks.py   # two at a time, into the build cache
	# the site's sliders get every frame; English at _build/html and Chinese at _build/html/zh,
	# built side by side (jupyter-book build . -n -W --keep-going, and scripts/edition.py zh)
	WHYSQRT_STATIC_FRAMES=1 $(BIN)/python scripts/edition.py both
	@echo
	@echo "Built. Open _build/html/index.html in a browser (it redirects to the first page)."

# The PDF edition: the single-page HTML book, typeset by MathJax and printed by Chromium
# (scripts/build-pdf.py); also copied into _build/html for the site to ship.
pdf: book $(VENV)/.dev
	bash scripts/ensure-chromium
	$(JB) build . --builder singlehtml -n -W --keep-going
	$(BIN)/python scripts/build-pdf.py
	$(BIN)/python scripts/edition.py zh-singlehtml   # the Chinese PDF: _build/pdf/why-sqrt-dk-zh.pdf
	$(BIN)/python scripts/build-pdf.py --lang zh

test: book pdf $(VENV)/.dev lint
	bash scripts/ensure-chromium
	$(BIN)/python -m pytest

# The same checks as the git pre-commit hook (.pre-commit-config.yaml), on every file.
lint: $(VENV)/.dev
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

# Drives a real JupyterLab with headless Chromium (Playwright, from requirements-dev.txt).
bench: $(VENV)/.dev
	bash scripts/ensure-chromium
	$(BIN)/python scripts/bench.py

# After editing English text: new and changed messages appear in locales/ (changed ones
# marked fuzzy) for a translator; tests/test_translations.py fails until they are done.
translations: $(VENV)/.dev
	$(BIN)/python scripts/edition.py gettext

lab: $(VENV)/.runtime
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf _build

clean-all: clean
	rm -rf $(VENV)
