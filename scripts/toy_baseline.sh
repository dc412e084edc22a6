#!/usr/bin/env bash
# Regenerate the toy models' committed baseline bundle from a fresh default job:
#   toyworld/baseline/   each run's metrics.json and samples.jsonl; package data, so `bench regress --baseline toy`
#                        finds it from an installed wheel too. `.ci/run` gates with it.
# The runs go to a temporary folder, so other runs in results/runs never enter the baseline.
# Usage: bash scripts/toy_baseline.sh   (PYTHON=.venv/bin/python to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
HF_HUB_OFFLINE=1 "$PY" -m bench run --quiet --output-dir "$runs/runs"
"$PY" -m bench regress --write-baseline toyworld/baseline --runs "$runs/runs"
