# The two set-up commands: `make run` and `make test`. Both create .venv and
# install the project with its test and bench extras on first use (the
# benchmark's peers are in the suite too: tests/test_bench_smoke.py).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Debian packages the server and browser tests need (installed when root).
APT_PACKAGES := apache2 apache2-dev chromium chromium-driver wrk curl postgresql nginx

.PHONY: run test lint bench docs docs-shots system-deps servers clean webob-contract cluster sdist-test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

run: $(STAMP)
	DEBUG=$${DEBUG:-1} HTPASSWD=$${HTPASSWD:-deploy/development.htpasswd} \
	  $(BIN)/webkit-app serve webkit_app.demo.wsgi:application --host $(HOST) --port $(PORT)

# Debian packages: installed only when root with apt; otherwise the tests that
# need them skip with a reason (and CI=true turns a skip into a failure).
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	else echo "not root or no apt-get: server/browser tests may skip"; fi

# uWSGI and mod_wsgi compile against the system (mod_wsgi needs apache2-dev).
# The stamp is written only once both are in, so a run without apache2-dev
# (not root) does not keep mod_wsgi out after the package arrives.
$(VENV)/.servers: $(STAMP)
	$(BIN)/python -m pip install --quiet 'uWSGI>=2.0.28' || \
	  { echo "uWSGI did not build (needs gcc and the Python headers): its tests will skip"; \
	    exit 0; }
	if command -v apxs >/dev/null 2>&1; then \
	  $(BIN)/python -m pip install --quiet 'mod_wsgi>=5.0.1' && touch $@; \
	else echo "apxs (apache2-dev) not found: mod_wsgi not installed, its tests will skip"; fi

servers: system-deps $(VENV)/.servers

test: system-deps $(STAMP) $(VENV)/.servers
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check webkit_app tests bench
	$(BIN)/mypy

# WebOb's own request and response tests (from the sdist of the installed
# WebOb) run against the toolkit's Request and Response; a failure that
# tests/webob_contract/deliberate.txt does not list fails, and so does a
# listed one that passes.
WEBOB_SDIST := $(VENV)/webob-sdist
webob-contract: $(STAMP)
	v=$$($(BIN)/python -c "import importlib.metadata as m; print(m.version('WebOb'))"); \
	mkdir -p $(WEBOB_SDIST) && \
	{ ls $(WEBOB_SDIST)/webob-$$v.tar.gz >/dev/null 2>&1 || \
	  $(BIN)/python -m pip download --quiet --no-deps --no-binary :all: "WebOb==$$v" \
	    -d $(WEBOB_SDIST); } && \
	tar -xzf $(WEBOB_SDIST)/webob-$$v.tar.gz -C $(WEBOB_SDIST) && \
	$(BIN)/python tests/webob_contract/run.py $(WEBOB_SDIST)/webob-$$v

bench: system-deps $(STAMP)
	$(BIN)/python -m bench

# PostgreSQL, three gunicorn instances and nginx on 127.0.0.1 (the URL is
# printed); Ctrl-C stops them all. CLUSTER_ARGS="--instances 2 --port 9000".
cluster: system-deps $(STAMP)
	$(BIN)/python deploy/cluster.py $(CLUSTER_ARGS)

# The manual: HTML, warnings as errors, every reference checked (-n).
docs: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	$(BIN)/python -m sphinx -W -n --keep-going -b html docs build/docs/html

# Screenshots of the built manual in headless Chromium, to look at.
docs-shots: docs
	$(BIN)/python docs/screenshots.py build/docs/html build/docs-shots

# The whole suite again from the unpacked sdist, against the sdist's own
# webkit_app: PYTHONPATH puts the unpacked folder ahead of the editable
# install, and the first command fails if the import comes from elsewhere.
SDIST_DIR := build/sdist-test
sdist-test: system-deps $(STAMP) $(VENV)/.servers
	rm -rf $(SDIST_DIR) && mkdir -p $(SDIST_DIR)
	$(BIN)/python -m build --sdist --outdir $(SDIST_DIR) .
	tar -xzf $(SDIST_DIR)/*.tar.gz -C $(SDIST_DIR)
	cd $(SDIST_DIR)/webkit_app-*/ && export PYTHONPATH="$$PWD" && \
	  $(abspath $(BIN))/python -c 'import os, webkit_app; assert webkit_app.__file__.startswith(os.getcwd() + os.sep), webkit_app.__file__' && \
	  $(abspath $(BIN))/python -m pytest -p no:cacheprovider --rootdir . $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
