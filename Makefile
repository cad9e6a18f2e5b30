# The README's two commands: `make train` and `make test`. Each creates the venv
# and installs the pinned stack first if needed (re-installs when pyproject.toml
# or constraints.txt change).
# dm-reverb 0.14.0 has wheels for Python 3.10 and 3.11 only: when PYTHON is missing
# or another version (Ubuntu 24.04, Debian 13), uv provides CPython 3.11 (uv from
# PATH, else from PyPI into a bootstrap venv at UV_VENV).
PYTHON  ?= python3.11
VENV    ?= .venv
UV_VENV ?= $(HOME)/.cache/vtrax/uv-venv
STAMP   := $(VENV)/.vtrax-installed
SUPPORTED := import sys; sys.exit(not (3, 10) <= sys.version_info[:2] < (3, 12))
NO_UV := make: cannot install uv (\`python3 -m venv\` or pip failed); install Python 3.11 and rerun \
	\`make PYTHON=/path/to/python3.11 ...\`, or install uv (https://docs.astral.sh/uv/getting-started/installation/) and rerun

.PHONY: install train test doctor

$(VENV)/bin/python:
	@python=$$(command -v $(PYTHON)); \
	if [ -z "$$python" ] || ! "$$python" -c '$(SUPPORTED)'; then \
	  echo "make: $(PYTHON) is missing or not Python 3.10/3.11 (dm-reverb 0.14.0 wheels); getting CPython 3.11 with uv"; \
	  uv=$$(command -v uv || echo $(UV_VENV)/bin/uv); \
	  if [ ! -x "$$uv" ]; then \
	    { python3 -m venv $(UV_VENV) && $(UV_VENV)/bin/python -m pip install --quiet uv; } >/dev/null 2>&1 \
	      || { echo "$(NO_UV)"; exit 1; }; \
	  fi; \
	  python=$$("$$uv" python find --system 3.11 2>/dev/null \
	    || { "$$uv" python install 3.11 >&2 && "$$uv" python find --system 3.11; }) \
	    || { echo "make: \`$$uv python install 3.11\` failed (see above); install Python 3.11 and rerun \`make PYTHON=/path/to/python3.11 ...\`"; exit 1; }; \
	fi; \
	echo "$$python -m venv $(VENV)"; "$$python" -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(VENV)/bin/python
	@$(VENV)/bin/python -c '$(SUPPORTED)' || { echo "make: $(VENV) runs Python $$($(VENV)/bin/python -V 2>&1), \
	not 3.10/3.11 (dm-reverb 0.14.0 wheels); remove $(VENV) and rerun make"; exit 1; }
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(VENV)/bin/vtrax train --preset cartpole

test: $(STAMP)
	$(VENV)/bin/python -m pytest
