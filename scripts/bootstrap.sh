#!/usr/bin/env bash
# Create .venv (or $VENV) and install blip2-bench (the `blip2-bench` command) with its dev tools and the
# experiment trackers (extras dev, trackers). Safe to run again.
#
# torch and torchvision are installed first as a matching pair: a torch wheel on its own can
# pull a torchvision that does not import beside it ("operator torchvision::nms does not exist").
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip

case "$(uname -m)" in
  aarch64|arm64) TORCH="torch==2.9.1 torchvision==0.24.1" ;;
  *)             TORCH="torch==2.14.1 torchvision==0.29.1" ;;
esac
if ! "$VENV/bin/python" -c "import torch, torchvision" >/dev/null 2>&1; then
  echo "installing $TORCH ..."
  "$VENV/bin/python" -m pip install --quiet $TORCH
fi
"$VENV/bin/python" -m pip install --quiet -e ".[dev,trackers]"
echo "ready: $VENV/bin/python ($("$VENV/bin/python" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'))"
