#!/usr/bin/env bash
# The GPU benchmark suite in one command: < 8 minutes on one H200 (see benchmarks/gpu_suite.py).
#
#   bash benchmarks/gpu_suite.sh            # results: $OUT/gpu_suite.{csv,md} + run.json (default runs/gpu_suite)
#   bash benchmarks/gpu_suite.sh --smoke    # a few seconds on CPU: checks that every section runs
#
# Python: $PYTHON, else .venv/bin/python, else python3. Extra arguments go to gpu_suite.py.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then PY=$PYTHON
elif [[ -x .venv/bin/python ]]; then PY=.venv/bin/python
else PY=python3
fi
OUT_DIR=${OUT:-runs/gpu_suite}
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
"$PY" -c "import torch, kornia, timm, albumentations, webdataset" || {
  echo "gpu_suite.sh: $PY lacks the project's dependencies: pip install -e . first" >&2; exit 2; }
"$PY" -c "import torch; print('torch', torch.__version__, '| CUDA:', torch.cuda.is_available() and torch.cuda.get_device_name())"
# the suite stops starting measurements after --budget-s (450 s); timeout is the backstop for a hang,
# and every row is on disk as soon as it is measured
timeout --signal=INT --kill-after=10 470 "$PY" benchmarks/gpu_suite.py --out "$OUT_DIR" "$@"
