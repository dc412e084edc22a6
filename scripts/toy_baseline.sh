#!/usr/bin/env bash
# Regenerate the toy models' committed baselines from a fresh default job (about 90 s on 2 CPU cores):
#   results/baselines/toy/     the bundle `.ci/run` gates with: each run's metrics.json and samples.jsonl
#   results/baselines/toy.csv  the same numbers as a flat CSV (kept for the flat rule)
# The runs go to a temporary folder, so other runs in results/runs never enter the baseline.
# Usage: bash scripts/toy_baseline.sh   (PYTHON=.venv/bin/python to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
HF_HUB_OFFLINE=1 "$PY" -m bench run --quiet --output-dir "$runs/runs"
"$PY" -m bench regress --write-baseline results/baselines/toy --runs "$runs/runs"
"$PY" -m bench regress --write-baseline results/baselines/toy.csv --runs "$runs/runs"
