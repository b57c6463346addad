# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   build the dataset if missing, train the reference LSTM captioner, report BLEU,
#               release into a demo course and grade sample submissions (sandboxed)
#   make test   run the test suite
# Both create .venv and install the project (editable) with the dev, oracle and postgres extras.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test data install clean-venv sandbox-tools postgres-tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,oracle,postgres]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP) sandbox-tools postgres-tools

data: $(STAMP) sandbox-tools
	$(BIN)/python -m assignment.synthetic_coco

demo: data
	$(BIN)/rnn-assignment demo

test: data postgres-tools
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

# The PostgreSQL gradebook test (tests/test_postgres.py) starts a throwaway server on
# loopback with Debian's PostgreSQL binaries; installed like bubblewrap when missing
# (the test is skipped, saying why, where they cannot be installed).
postgres-tools:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "PostgreSQL server binaries are missing: install PostgreSQL with your package manager to run tests/test_postgres.py (skipped otherwise)."; \
	  elif [ "$$(id -u)" = 0 ]; then \
	    echo "Installing PostgreSQL (the gradebook-server test)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  elif sudo -n true 2>/dev/null; then \
	    echo "Installing PostgreSQL (the gradebook-server test)"; \
	    sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "PostgreSQL server binaries are missing: run 'sudo apt-get install postgresql' to run tests/test_postgres.py (skipped otherwise)."; \
	  fi; }

clean-venv:
	rm -rf $(VENV)
