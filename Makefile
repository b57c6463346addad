# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   build the dataset if missing, train the reference LSTM captioner, report BLEU,
#               train the reference character language model (bits per character, samples),
#               release into a demo course and grade sample submissions (sandboxed)
#   make test   run the test suite
# Both create .venv and install the project (editable) with the dev, oracle and postgres extras.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test data install clean-venv sandbox-tools postgres-tools browser-tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,oracle,postgres]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP) sandbox-tools postgres-tools browser-tools

data: $(STAMP) sandbox-tools
	$(BIN)/python -m assignment.synthetic_coco

demo: data
	$(BIN)/rnn-assignment demo

test: data postgres-tools browser-tools
	$(BIN)/python -m pytest -q

# Debian packages some parts need, installed with apt when missing (as root, or with
# passwordless sudo; otherwise a message says how); silent when they are there.
#   bubblewrap: the grading sandbox (autograder/grading/); grading and its tests need it
#   postgresql: the gradebook-server test (tests/test_postgres.py), skipped without it
#   chromium:   the real-browser test (tests/test_browser.py, driven by Playwright), skipped without it
sandbox-tools:
	@scripts/install-if-missing.sh bubblewrap "the grading sandbox; grading and its tests need it" bwrap

postgres-tools:
	@scripts/install-if-missing.sh postgresql "the gradebook-server test, tests/test_postgres.py" initdb '/usr/lib/postgresql/*/bin/initdb'

browser-tools:
	@scripts/install-if-missing.sh chromium "the real-browser test, tests/test_browser.py" chromium chromium-browser

clean-venv:
	rm -rf $(VENV)
