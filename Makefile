# Two set-up commands: `make demo` and `make test`. Both create .venv and install everything themselves.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.14.1 torchvision==0.29.1
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

export HF_HUB_OFFLINE = 1
export PYTHONUNBUFFERED = 1

.PHONY: install test demo docs benchmarks clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Torch first, pinned, so that the dependencies below do not pull a different (multi-GB) build.
$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc
	$(MAKE) docs

demo: $(STAMP)
	$(PY) -m byol_transfer.demo --out runs/demo

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir .site

benchmarks: $(STAMP)
	$(PY) benchmarks/pretrain_throughput.py

clean:
	rm -rf .site runs .pytest_cache
