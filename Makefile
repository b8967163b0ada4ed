# Two entry points: `make demo` (set up + run the main job) and `make test` (set up + all checks).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: demo test scorer lucene esql-venv appinspect-venv deepeval-venv chromium prometheus lint typecheck imports pytest validate clean taxonomy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $@

# The demo needs the package only, not the test and response-target stack.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e .
	touch $@

demo: $(VENV)/.installed
	$(BIN)/llmsiem demo

# The shipped prompt-injection model (llmsiem.prompt.injection_score), retrained from the tune
# half of the dev corpora and corpora/{paraphrases,hard_negatives}; deterministic, so an
# unchanged corpus gives the same bytes. Needs scikit-learn (the dev extra).
CORPORA ?= ../shared/corpora/dev
scorer: $(VENV)/.dev-installed
	$(BIN)/python -m llmsiem.scoring.train --corpora $(CORPORA)

# Real Apache Lucene 9.5.0 (Elasticsearch 8.7's) for the conformance tests: the anserini fat jar
# inside the pyserini wheel on PyPI (pinned by version and sha256), run through JPype on Java 17.
LUCENE_WHEEL := pyserini-0.22.1-py3-none-any.whl
LUCENE_WHEEL_SHA256 := d8cdf5c166b962bf4ec343ae7ffe84a43dbcd969b2c7f16b2f43b6c0fdac3896
LUCENE_DIR := $(VENV)/share/lucene
LUCENE_JAR := $(LUCENE_DIR)/anserini-0.22.1-fatjar.jar

$(LUCENE_JAR): | $(BIN)/python
	command -v java >/dev/null || { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q openjdk-17-jre-headless; }
	rm -rf $(LUCENE_DIR)/download && mkdir -p $(LUCENE_DIR)/download
	$(PIP) download -q --no-deps pyserini==0.22.1 -d $(LUCENE_DIR)/download
	echo "$(LUCENE_WHEEL_SHA256)  $(LUCENE_DIR)/download/$(LUCENE_WHEEL)" | sha256sum -c -
	$(BIN)/python -c "import shutil, sys, zipfile; \
		src = zipfile.ZipFile(sys.argv[1]).open('pyserini/resources/jars/' + sys.argv[2].rsplit('/', 1)[1]); \
		shutil.copyfileobj(src, open(sys.argv[2] + '.part', 'wb'))" \
		$(LUCENE_DIR)/download/$(LUCENE_WHEEL) $@
	mv $@.part $@
	rm -rf $(LUCENE_DIR)/download

lucene: $(LUCENE_JAR)

# Elastic's offline ES|QL parser and analyzer (detection-rules-esql-py) needs Python >= 3.12;
# the project runs on 3.11, so the ES|QL conformance test runs it in this second venv.
PYTHON_ESQL ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3.12)
ESQL_VENV := .venv-esql
ESQL_PACKAGES := detection-rules-esql-py==0.1.0 antlr4-python3-runtime==4.13.2

$(ESQL_VENV)/.installed: Makefile
	$(PYTHON_ESQL) -m venv $(ESQL_VENV)
	$(ESQL_VENV)/bin/python -m pip install -q $(ESQL_PACKAGES)
	touch $@

esql-venv: $(ESQL_VENV)/.installed

# Splunk AppInspect pins croniter<2, which conflicts with the project's pinned set, so the
# AppInspect test runs it from this venv; python-magic needs Debian's libmagic1.
APPINSPECT_VENV := .venv-appinspect

$(APPINSPECT_VENV)/.installed: constraints-appinspect.txt
	ldconfig -p | grep -q libmagic.so.1 || { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q libmagic1; }
	$(PYTHON) -m venv $(APPINSPECT_VENV)
	$(APPINSPECT_VENV)/bin/python -m pip install -q -c constraints-appinspect.txt splunk-appinspect
	touch $@

appinspect-venv: $(APPINSPECT_VENV)/.installed

# DeepEval pins click<8.4, which conflicts with the project's pinned click, so the DeepEval
# source test runs the real DeepEval (a deterministic metric, no model) from this venv.
DEEPEVAL_VENV := .venv-deepeval

$(DEEPEVAL_VENV)/.installed: constraints-deepeval.txt
	$(PYTHON) -m venv $(DEEPEVAL_VENV)
	$(DEEPEVAL_VENV)/bin/python -m pip install -q -c constraints-deepeval.txt deepeval
	touch $@

deepeval-venv: $(DEEPEVAL_VENV)/.installed

# Headless Chromium renders the `llmsiem coverage` HTML report in tests/test_coverage.py.
chromium:
	command -v chromium >/dev/null || { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

# Debian's prometheus package: promtool runs the Grafana dashboard's PromQL in Prometheus's
# engine (tests/test_dashboards.py); the prometheus server scrapes `collect`'s and `detect
# --follow`'s /metrics (tests/test_metrics.py).
prometheus:
	command -v promtool >/dev/null || { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && $$SUDO apt-get install -y -q --no-install-recommends prometheus; }

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench playbooks
	$(BIN)/ruff format --check src tests bench playbooks

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

# Layers import one way (contracts in pyproject.toml, [tool.importlinter]).
imports: $(VENV)/.dev-installed
	$(BIN)/lint-imports

pytest: $(VENV)/.dev-installed $(LUCENE_JAR) $(ESQL_VENV)/.installed $(APPINSPECT_VENV)/.installed $(DEEPEVAL_VENV)/.installed chromium prometheus
	$(BIN)/python -m pytest -n auto --dist loadgroup

# The Lucene jar lets validate measure each rule regex's automaton on real Lucene.
validate: $(VENV)/.dev-installed $(LUCENE_JAR)
	$(BIN)/llmsiem validate

test: lint typecheck imports validate pytest

# Regenerate the offline MITRE ATLAS catalogue from the published data in ../shared.
taxonomy: $(VENV)/.dev-installed
	$(BIN)/python -m llmsiem.atlas_data ../shared/mitre/ATLAS.yaml mappings/taxonomy/atlas.yaml

clean:
	rm -rf $(VENV) $(ESQL_VENV) $(APPINSPECT_VENV) $(DEEPEVAL_VENV) build dist .pytest_cache .mypy_cache .ruff_cache
