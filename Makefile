# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   build the dataset if missing, train the reference LSTM captioner, report BLEU,
#               release into a demo course and grade sample submissions (sandboxed)
#   make test   run the test suite
# Both create .venv and install the project (editable) with the dev and oracle extras.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test data install clean-venv sandbox-tools browser-tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,oracle]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP) sandbox-tools browser-tools

data: $(STAMP) sandbox-tools browser-tools
	$(BIN)/python -m assignment.synthetic_coco

demo: data
	$(BIN)/rnn-assignment demo

test: data
	$(BIN)/python -m pytest -q

# The grading sandbox (autograder/sandbox.py) runs student kernels in bubblewrap.
# Installed with apt when missing and we are root (or sudo works without a
# password); otherwise a message says how. Silent when bwrap is there.
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "bubblewrap (bwrap) is missing: install it with your package manager (package 'bubblewrap'); grading and the sandbox tests need it."; \
	  elif [ "$$(id -u)" = 0 ]; then \
	    echo "Installing bubblewrap (the grading sandbox)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  elif sudo -n true 2>/dev/null; then \
	    echo "Installing bubblewrap (the grading sandbox)"; \
	    sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "bubblewrap (bwrap) is missing: run 'sudo apt-get install bubblewrap'; grading and the sandbox tests need it."; \
	  fi; }

# The real-browser test (tests/test_browser.py) drives Debian's chromium with Playwright
# (a dev extra; Playwright's own browser download is not used). Installed with apt like
# bubblewrap; without it that one test is skipped with the reason.
browser-tools:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "chromium is missing: install it with your package manager; only the real-browser test needs it."; \
	  elif [ "$$(id -u)" = 0 ]; then \
	    echo "Installing chromium (the real-browser test)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  elif sudo -n true 2>/dev/null; then \
	    echo "Installing chromium (the real-browser test)"; \
	    sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: run 'sudo apt-get install chromium'; only the real-browser test needs it."; \
	  fi; }

clean-venv:
	rm -rf $(VENV)
