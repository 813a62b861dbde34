# Two commands for users: `make repro` and `make test`. Both create .venv when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# `tinydetect serve`'s own venv: PyTriton's backend stub needs NumPy 1 (requirements-serve.txt)
SERVE_VENV := .venv-serve
# DVC stage commands call `python`: make it the venv's.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export TOKENIZERS_PARALLELISM := false

.PHONY: repro test test-fast docs serve-env optimum-env web-page extension-packages extension bench bench-extension bench-latency bench-quality bench-web report demo-data toolchains test-toolchains clean-venv
BASE ?= main

$(BIN)/activate: requirements.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(BIN)/activate

$(SERVE_VENV)/bin/activate: requirements-serve.txt pyproject.toml
	test -d $(SERVE_VENV) || $(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SERVE_VENV)/bin/python -m pip install --quiet -r requirements-serve.txt
	$(SERVE_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(SERVE_VENV)/bin/activate

serve-env: $(SERVE_VENV)/bin/activate

# Hugging Face Optimum's peer in the latency benchmark: Optimum pins transformers 4, the project runs 5
# (benchmarks/latency_levers.py makes it the same way when missing; the stamp is the requirements file's text).
OPTIMUM_VENV := .venv-optimum
$(OPTIMUM_VENV)/.installed: benchmarks/requirements-optimum.txt
	$(PYTHON) -m venv --clear $(OPTIMUM_VENV)
	$(OPTIMUM_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements-optimum.txt
	cp benchmarks/requirements-optimum.txt $@

optimum-env: $(OPTIMUM_VENV)/.installed

# The web page (web/: Vite + TypeScript), built into web/dist/ from the npm packages its lock file pins.
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	npm --prefix web ci --no-audit --no-fund
web/dist/index.html: web/node_modules/.package-lock.json web/index.html web/vite.config.ts web/tsconfig.json $(wildcard web/src/*)
	npm --prefix web run build
web-page: web/dist/index.html

# The browser extension (extension/: WebExtension, Vite + TypeScript; docs/extension.md). It imports the page's code
# (web/src), so it needs both folders' packages; `make extension` packs the model `make repro` made with it.
extension/node_modules/.package-lock.json: extension/package.json extension/package-lock.json
	npm --prefix extension ci --no-audit --no-fund
extension-packages: web/node_modules/.package-lock.json extension/node_modules/.package-lock.json
extension: extension-packages $(BIN)/activate
	$(BIN)/python -m tinydetect.web.extension build --zip extension/tinydetect-extension.zip

# Debian packages: the mcu stage's C toolchains (gcc for the host build, gcc-avr + avr-libc for the ATmega328P,
# simavr to run it), which `make repro` needs, and chromium for the browser tests (driven by Playwright, which
# downloads no browser of its own), which only `make test` needs: one apt-get run each (two at once would fight over
# dpkg's lock). Installed when missing and apt-get can run (root, or sudo without a password); otherwise the stage
# skips the AVR build and says so, and the browser tests fail naming the missing package.
APT_toolchains := gcc gcc-avr avr-libc simavr
APT_test-toolchains := $(APT_toolchains) chromium
HAVE_toolchains := command -v gcc >/dev/null && command -v avr-gcc >/dev/null && command -v simavr >/dev/null \
	&& test -f /usr/lib/avr/include/avr/io.h
HAVE_test-toolchains := $(HAVE_toolchains) && command -v chromium >/dev/null
toolchains test-toolchains:
	@if $(HAVE_$@); then :; \
	elif [ "$$(id -u)" = 0 ]; then { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_$@); } \
		|| echo "make: apt-get could not install $(APT_$@): the mcu stage and its tests skip the AVR build"; \
	elif sudo -n true 2>/dev/null; then { sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_$@); } \
		|| echo "make: apt-get could not install $(APT_$@): the mcu stage and its tests skip the AVR build"; \
	else echo "make: cannot install $(APT_$@) (not root, no sudo): the mcu stage and its tests skip the AVR build"; fi

# The demo texts are rebuilt from installed packages only when data/real/ has no data.
demo-data: $(BIN)/activate
	@ls data/real/*.jsonl >/dev/null 2>&1 || $(BIN)/tinydetect demo-data data/real/demo.jsonl

# Only what the stages need, at once: the venv (with the demo data) and the mcu stage's C toolchains. `tinydetect
# serve` runs in .venv-serve: `make serve-env` makes it (`make test` does too).
repro:
	$(MAKE) --no-print-directory -j2 demo-data toolchains
	$(BIN)/dvc repro

# The installs (pip into three venvs, apt, npm) do not depend on each other and mostly wait on the disk and the network:
# made at once, they cost a fresh machine about as long as the slowest of them.
test:
	$(MAKE) --no-print-directory -j5 $(BIN)/activate test-toolchains serve-env web-page extension-packages optimum-env
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $$(mktemp -d)
	$(BIN)/python -m pytest

# The edit loop: the suite without the end-to-end pipeline, the browser and the slow files (tests/conftest.py's tiers)
test-fast: $(BIN)/activate
	$(BIN)/python -m pytest -m "not e2e and not browser and not slow"

# The documentation site (docs/, mkdocs.yml) at http://127.0.0.1:8000, rebuilt as the pages change.
docs: $(BIN)/activate
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

# Speed and size of every variant of the models `make repro` made, then quality on real LLM data.
bench: bench-latency bench-quality

bench-latency: repro
	$(BIN)/python -m benchmarks.latency

bench-quality: $(BIN)/activate
	$(BIN)/python -m benchmarks.quality

# The page in headless Chromium: latency, page weight, training on feedback, a federated round (benchmarks/web.py).
bench-web: repro web-page
	$(BIN)/python -m benchmarks.web

# The extension in headless Chromium on the fixture pages: time to the badge, package size (benchmarks/extension.py).
bench-extension: repro extension-packages
	$(BIN)/python -m benchmarks.extension

# report.md: what the workspace moved against $(BASE) (params, metrics, plots), as CI posts on a PR.
report: repro
	$(BIN)/tinydetect report --base $(BASE) --output report.md

clean-venv:
	rm -rf $(VENV) $(SERVE_VENV)
