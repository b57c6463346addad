# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   build the dataset if missing, train the reference LSTM captioner, report BLEU
#   make test   run the test suite
# Both create .venv and install the project (editable) with the dev and oracle extras.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test data install clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,oracle]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

data: $(STAMP)
	$(BIN)/python -m assignment.synthetic_coco

demo: data
	$(BIN)/rnn-assignment demo

test: data
	$(BIN)/python -m pytest -q

clean-venv:
	rm -rf $(VENV)
