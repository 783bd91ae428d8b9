# Two commands for a fresh clone (Python 3.10 or newer):
#   make run    execute A3_VAE.ipynb top to bottom, saving its outputs in place
#   make test   run the unit tests and the notebook under nbval (installs requirements-test.txt too)
# Both create the virtual environment in $(VENV) first if it is not there yet.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test benchmark

# The project itself in editable mode (pyproject.toml): vaekit and instructor import from any folder.
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	touch $@

# The tests also run real nbgrader, from requirements-test.txt.
$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=-1 A3_VAE.ipynb

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

benchmark: $(VENV)/.installed
	$(BIN)/python -m tools.benchmark
