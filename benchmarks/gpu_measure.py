"""Measuring helpers for `gpu_full_scale.py`: the card and its peak, wall time with peak GPU memory, the ViT's
achieved TFLOP/s, the share of decode time spent outside GPU kernels, and the Markdown table."""

from __future__ import annotations

import platform
import subprocess
import time
from collections.abc import Callable
from typing import Any

import torch

from bench.cost import GPU_PEAK_TFLOPS, PEAK_SOURCE

# Substrings of `torch.cuda.get_device_name()` -> key of `bench.cost.GPU_PEAK_TFLOPS`; first match wins
# (PCIe before the SXM default, H200 before H100).
CARD_KEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("H200",), "H200"), (("H100", "PCIe"), "H100-PCIe"), (("H100",), "H100"), (("A100",), "A100-80GB"),
)


def card(device: torch.device) -> dict[str, Any]:
    """The card's name and its published dense fp16/bf16 peak; "unknown card" (peak null) for any other."""
    if device.type != "cuda":
        return {"name": f"CPU ({platform.processor() or platform.machine()})", "cost_key": None, "peak_tflops": None,
                "note": "no GPU: MFU and the cost projection are not applicable", "peak_source": PEAK_SOURCE}
    name = torch.cuda.get_device_name(device)
    for parts, key in CARD_KEYS:
        if all(p in name for p in parts):
            return {"name": name, "cost_key": key, "peak_tflops": GPU_PEAK_TFLOPS[key], "note": "",
                    "peak_source": PEAK_SOURCE}
    return {"name": name, "cost_key": None, "peak_tflops": None, "note": "unknown card: no published peak used",
            "peak_source": PEAK_SOURCE}


def environment(device: torch.device) -> dict[str, Any]:
    """Versions the run found (the device machine may not have the pins)."""
    import timm
    import transformers

    env = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
           "timm": timm.__version__, "cuda": torch.version.cuda, "driver": None, "device": str(device)}
    if device.type == "cuda":
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20, check=True)
            env["driver"] = out.stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError) as exc:
            env["driver"] = f"unknown ({exc.__class__.__name__})"
    return env


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float, float | None]:
    """(result, seconds, peak GPU MiB during the call; None on CPU). The peak counter is reset first, so the
    figure is this call's own peak, weights included."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return result, seconds, peak


def vit_throughput(encode: Callable[[], Any], device: torch.device, flops: float, peak_tflops: float | None,
                   repeats: int = 3) -> dict[str, float | None]:
    """Achieved TFLOP/s of one ViT batch (after a warm-up) and its share of the card's peak (MFU)."""
    encode()
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        encode()
    sync(device)
    seconds = (time.perf_counter() - start) / repeats
    tflops = flops / seconds / 1e12
    return {"seconds_per_batch": seconds, "tflops": tflops,
            "mfu": tflops / peak_tflops if peak_tflops else None}


def outside_kernels(fn: Callable[[], Any], device: torch.device) -> dict[str, Any]:
    """Share of `fn`'s wall time not covered by GPU kernels (Python, beam bookkeeping, launches, syncs), from
    the profiler's self CUDA time of every kernel; one stream, so kernels do not overlap."""
    if device.type != "cuda":  # still run it, so the code path is exercised on a CPU
        _, wall, _ = timed(fn, device)
        return {"share": None, "wall_s": wall, "kernel_s": None, "note": "no GPU: kernel time not measured"}
    from torch.profiler import ProfilerActivity, profile

    fn()  # warm-up: allocator, cuBLAS handles
    sync(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        fn()
        sync(device)
        wall = time.perf_counter() - start
    kernel = sum(e.self_device_time_total for e in prof.key_averages()) / 1e6
    return {"share": max(0.0, 1 - kernel / wall), "wall_s": wall, "kernel_s": kernel, "note": ""}


# --- the Markdown table ----------------------------------------------------------------------------------


def _f(value: Any, fmt: str = ".2f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{suffix}"


def markdown(report: dict[str, Any]) -> str:
    """The tables `docs/performance.md` takes: throughput and memory, then ViT MFU, cost projection, parity
    and decode overhead, with the card, versions and command above them."""
    env, gpu = report["environment"], report["card"]
    lines = [f"Device: {gpu['name']} (peak used: {_f(gpu['peak_tflops'], 'g')} TFLOP/s dense fp16/bf16; "
             f"{gpu['note'] or gpu['peak_source']}). torch {env['torch']}, CUDA {env['cuda']}, driver {env['driver']}, "
             f"transformers {env['transformers']}, timm {env['timm']}, Python {env['python']}.",
             f"Command: `{report['command']}`. Mode: {report['mode']}.", "",
             "| workload | path | precision | batch | s | samples/s | images/s | peak GPU MiB | speed-up |",
             "|---|---|---|---|---|---|---|---|---|"]
    for w in report["workloads"]:
        if w.get("error"):
            lines.append(f"| {w['name']} | - | - | - | - | - | - | - | error: {w['error']} |")
            continue
        for path in ("ours", "transformers"):
            p = w["paths"][path]
            speed = _f(w.get("speedup"), ".2f", "x") if path == "ours" else ""
            lines.append(f"| {w['name']} | {path} | {w['precision'][path]} | {w['batch_size']} | "
                         f"{_f(p['seconds'])} | {_f(p['samples_per_s'])} | {_f(p['images_per_s'])} | "
                         f"{_f(p['peak_gpu_mib'], '.0f')} | {speed} |")
    lines += ["", "| workload | ViT TFLOP/s ours / transformers | MFU ours / transformers | cost: projected s at "
              "utilisation | measured s (ours) | implied utilisation |", "|---|---|---|---|---|---|"]
    for w in report["workloads"]:
        if w.get("error"):
            continue
        v, c = w["vit"], w["cost"]
        lines.append(f"| {w['name']} | {_f(v['ours']['tflops'], '.1f')} / {_f(v['transformers']['tflops'], '.1f')} | "
                     f"{_f(v['ours']['mfu'], '.1%')} / {_f(v['transformers']['mfu'], '.1%')} | "
                     f"{_f(c['projected_s'])} at {c['utilization_assumed']:.0%} | {_f(c['measured_s'])} | "
                     f"{_f(c['implied_utilization'], '.1%')} |")
    lines += ["", "| workload | fp32 parity (TF32 off) | released policy: largest logit/score difference | "
              "released: outputs differing | decode time outside kernels, ours / transformers |",
              "|---|---|---|---|---|"]
    for w in report["workloads"]:
        if w.get("error"):
            continue
        p, d = w["parity"], w["decode_overhead"]
        fp32 = "equal" if p["fp32"]["equal"] else f"NOT equal ({p['fp32']['detail']})"
        decode = (f"{_f(d['ours']['share'], '.0%')} / {_f(d['transformers']['share'], '.0%')}" if d
                  else "n/a (no decode)")
        lines.append(f"| {w['name']} | {fp32} | {_f(p['released']['max_abs_diff'], '.3g')} | "
                     f"{p['released']['differing']} of {p['released']['compared']} | {decode} |")
    return "\n".join(lines) + "\n"
