# The README's two commands: `make train` and `make test`. Each creates the venv
# and installs the pinned stack first if needed (re-installs when pyproject.toml
# or constraints.txt change).
PYTHON ?= python3.11
VENV   ?= .venv
STAMP  := $(VENV)/.vtrax-installed

.PHONY: install train test doctor

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert (3, 10) <= sys.version_info[:2] < (3, 12), "vtrax needs Python 3.10 or 3.11 (dm-reverb 0.14.0 wheels); run: make PYTHON=python3.11 ..."'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(VENV)/bin/vtrax train --preset cartpole

test: $(STAMP)
	$(VENV)/bin/python -m pytest
