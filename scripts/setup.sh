#!/usr/bin/env bash
# Creates .venv, installs the pinned CPU torch first (so nothing pulls another
# build), then the project, builds the CPU training kernels, then the embedded
# default data (Fashion-MNIST from Debian's package dataset-fashion-mnist)
# where apt is available.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_VERSION=2.13.0

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION" >&2
  .venv/bin/pip install -q --disable-pip-version-check "torch==$TORCH_VERSION" 2>&1 | grep -v '^WARNING: Location' >&2 || true
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test,ray,onnx,parquet,optuna]' 2>&1 | grep -v '^WARNING: Location' >&2 || true
.venv/bin/python -c "import netspace, torch" || { echo "setup: the project did not install" >&2; exit 1; }
# pycls, the reference the weight conversion is tested against (tests/test_interop.py). Its declared
# dependencies (opencv-python, simplejson) serve its data loading and logging only; building its models
# needs yacs, numpy and torch, so it is installed without them.
.venv/bin/python -c "import pycls.core.builders" 2>/dev/null \
  || .venv/bin/pip install -q --disable-pip-version-check --no-deps pycls yacs 2>&1 | grep -v '^WARNING: Location' >&2 || true
# Build the CPU training kernels now (once per machine, about 2 minutes) rather than in the first training run.
.venv/bin/python -c "from netspace.models.fused import check; print('setup:', check())" >&2

FMNIST=/usr/share/datasets/fashion-mnist
if [ ! -f "$FMNIST/train-images-idx3-ubyte.gz" ] && [ -z "${NETSPACE_DATA:-}" ] && command -v apt-get >/dev/null; then
  echo "setup: installing Debian's dataset-fashion-mnist" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist; } >/dev/null 2>&1 \
    || echo "setup: could not install dataset-fashion-mnist; install it or set NETSPACE_DATA" >&2
fi
