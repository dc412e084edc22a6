#!/usr/bin/env bash
# The full-size GPU benchmark (issue 21) in one call, on a machine with one CUDA GPU and maybe no network.
#
#   bash benchmarks/gpu_full_scale.sh prepare   # here, with network: pinned wheels -> benchmarks/wheels/
#   bash benchmarks/gpu_full_scale.sh run       # there: install them offline, run, write $OUT (or ./gpu-out)
#
# With the project's device tool, the one call is (carry the wheel folder; it is git-ignored):
#   run(command="bash benchmarks/gpu_full_scale.sh run", carry=["benchmarks/wheels"], timeout_s=590)
#
# torch, torchvision, numpy and pillow are taken from the device machine (torch with CUDA is assumed; the
# wheels of those would not fit the 64 MiB carry). Everything else the script imports comes at the versions of
# this project's environment: transformers, timm, accelerate, tokenizers, safetensors, huggingface_hub and
# their dependencies, for CPython 3.11-3.13 on manylinux x86_64. If the offline install fails (another
# Python, a missing dependency), the run goes on with the device's own versions; the JSON records every
# version it found (torch, CUDA, driver, transformers, timm, Python).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=benchmarks/wheels
PY=${PYTHON:-python3}

prepare() {
    local venv_py=${PROJECT_PYTHON:-.venv/bin/python}
    # The pinned packages and their dependency closure, at the versions installed in the project's venv.
    local pins
    pins=$("$venv_py" - <<'PYEOF'
import importlib.metadata as md, re
from packaging.requirements import Requirement
roots = ["transformers", "timm", "accelerate", "tokenizers", "safetensors", "huggingface_hub"]
skip = {"torch", "torchvision", "numpy", "pillow"}
seen, todo = {}, list(roots)
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen or name in skip:
        continue
    dist = md.distribution(name)
    seen[name] = dist.version
    for raw in dist.requires or []:
        req = Requirement(raw)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            todo.append(req.name)
print(" ".join(f"{n}=={v}" for n, v in sorted(seen.items())))
PYEOF
)
    mkdir -p "$WHEELS"
    echo "$pins" | tr ' ' '\n' > "$WHEELS/requirements.txt"
    for version in 3.11 3.12 3.13; do  # transformers 5 and accelerate 1.16 need >= 3.11
        "$venv_py" -m pip download --quiet --no-deps --only-binary=:all: --dest "$WHEELS" \
            --python-version "$version" --implementation cp --platform manylinux2014_x86_64 \
            --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 --platform any $pins
    done
    du -sh "$WHEELS"
}

run() {
    local out=${OUT:-gpu-out}
    mkdir -p "$out"
    if [ -f "$WHEELS/requirements.txt" ]; then
        # Into the interpreter that has torch (the machine is fresh and handed back afterwards).
        "$PY" -m pip install --quiet --no-index --find-links "$WHEELS" -r "$WHEELS/requirements.txt" \
            || "$PY" -m pip install --quiet --user --no-index --find-links "$WHEELS" -r "$WHEELS/requirements.txt" \
            || echo "pinned wheels NOT installed; running with the device's own package versions"
    else
        echo "no $WHEELS/requirements.txt: running with the device's own package versions"
    fi
    nvidia-smi || true
    "$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name())"
    # 8 minutes at most; the JSON and the table are rewritten after every workload, so a cut run keeps its part.
    HF_HUB_OFFLINE=1 PYTHONPATH="$PWD" timeout 480 "$PY" -m benchmarks.gpu_full_scale --out "$out" "$@"
}

case "${1:-}" in
    prepare) prepare ;;
    run) shift; run "$@" ;;
    *) echo "usage: $0 prepare | run [--only WORKLOAD ...]" >&2; exit 2 ;;
esac
