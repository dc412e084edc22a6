"""The full-size GPU benchmark script (`benchmarks/gpu_full_scale.py`) runs end to end at tiny size on a CPU,
so it cannot rot while no GPU is at hand to run it for real."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import gpu_full_scale

PATH_FIELDS = {"seconds", "samples_per_s", "images_per_s", "peak_gpu_mib"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if torch.cuda.is_available():
        pytest.skip("this checks the CPU smoke run; on a GPU run the script itself")
    out = tmp_path_factory.mktemp("gpu-out")
    threads = torch.get_num_threads()
    try:
        code = gpu_full_scale.main(["--tiny", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    return code, json.loads((out / "gpu_full_scale.json").read_text()), (out / "gpu_full_scale.md").read_text()


def test_every_workload_runs_both_paths_without_error(report):
    code, data, _ = report
    assert code == 0
    assert [w["name"] for w in data["workloads"]] == [w[0] for w in gpu_full_scale.WORKLOADS]
    for w in data["workloads"]:
        assert "error" not in w, w.get("error")
        for path in ("ours", "transformers"):
            fields = w["paths"][path]
            assert PATH_FIELDS <= set(fields)
            assert fields["seconds"] > 0 and fields["samples_per_s"] > 0 and fields["images_per_s"] > 0
            assert fields["peak_gpu_mib"] is None  # a CPU has no GPU memory to report
        assert w["speedup"] == pytest.approx(w["paths"]["transformers"]["seconds"] / w["paths"]["ours"]["seconds"])


def test_weights_are_shared_not_copied(report):
    for w in report[1]["workloads"]:
        assert w["weights_shared"] > 0.99  # only EVA's fused q/k/v bias is a separate tensor


def test_fp32_parity_holds_and_the_released_policy_is_reported(report):
    for w in report[1]["workloads"]:
        fp32, released = w["parity"]["fp32"], w["parity"]["released"]
        assert fp32["equal"] is True, fp32["detail"]
        assert released["max_abs_diff"] >= 0 and 0 <= released["differing"] <= released["compared"]
        assert "bf16" in w["precision"]["ours"] and w["precision"]["transformers"].startswith(w["precision"]["ours"])


def test_decode_length_is_fixed_on_both_sides(report):
    for w in report[1]["workloads"]:
        if "decode" in w:
            assert w["decode"]["min_new_tokens"] == w["decode"]["max_new_tokens"]


def test_no_gpu_means_no_mfu_no_projection_but_flops_counted(report):
    data = report[1]
    assert data["mode"] == "tiny" and data["card"]["peak_tflops"] is None
    for w in data["workloads"]:
        assert w["vit"]["ours"]["mfu"] is None and w["vit"]["transformers"]["mfu"] is None
        assert w["vit"]["ours"]["tflops"] > 0
        assert w["cost"]["flops"] > 0 and w["cost"]["projected_s"] is None and w["cost"]["implied_utilization"] is None
        if w["decode_overhead"] is not None:
            assert w["decode_overhead"]["ours"]["share"] is None and w["decode_overhead"]["ours"]["wall_s"] > 0


def test_markdown_table_names_every_workload_and_path(report):
    _, data, md = report
    assert f"Command: `{data['command']}`" in md
    for w in data["workloads"]:
        assert f"| {w['name']} | ours |" in md and f"| {w['name']} | transformers |" in md


def test_unknown_workload_is_refused_with_exit_2(tmp_path, capsys):
    assert gpu_full_scale.main(["--tiny", "--out", str(tmp_path), "--only", "nope"]) == 2
    assert "--only nope" in capsys.readouterr().err
