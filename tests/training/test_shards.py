"""Tar shards through webdataset: split across processes and workers (every sample once per epoch), shuffled,
bad samples skipped and counted (and too many stop the run), pipe: only when allowed, no hang at an epoch's end."""

from __future__ import annotations

import functools
import http.server
import io
import json
import shutil
import threading
import time

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image
from torch.utils.data import DataLoader

from bench.cli import main
from blip2.processing import ImageTransform
from blip2.training.data import collate
from blip2.training.recipe import RecipeError, RecipeStartError
from blip2.training.shards import PipeShardsRefused, ShardStream, shard_urls
from blip2.training.trainer import train
from tests.training.test_trainer import _free_port, _model_and_data, tiny_recipe

SIZES = (7, 5, 6, 4, 8)  # uneven shards: 30 samples


def _jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG")
    return out.getvalue()


def write_shards(folder, sizes=SIZES, bad=()) -> list[str]:
    """Shards `folder/shard-0000i.tar` of `sizes` samples; keys in `bad` get a corrupt image. Returns the keys."""
    import webdataset as wds

    folder.mkdir(parents=True, exist_ok=True)
    keys = []
    for s, size in enumerate(sizes):
        with wds.TarWriter(str(folder / f"shard-{s:05d}.tar")) as sink:
            for i in range(size):
                key = f"s{s}-{i:03d}"
                image = b"not an image" if key in bad else _jpeg(len(keys))
                sink.write({"__key__": key, "jpg": image, "txt": f"a picture number {i}"})
                keys.append(key)
    return keys


def _stream(folder, **kwargs) -> ShardStream:
    urls = shard_urls("shard-{00000..00004}.tar", folder)
    return ShardStream(urls, ImageTransform(16, (0.5,) * 3, (0.5,) * 3, train=False), seed=3, **kwargs)


def _read_epochs(rank, folder, result):
    import os

    os.environ.update(RANK=str(rank), WORLD_SIZE="2")  # what webdataset's split_by_node reads
    stream = _stream(folder, shuffle_buffer=4)
    for epoch in (0, 1):
        stream.set_epoch(epoch)
        loader = DataLoader(stream, batch_size=3, num_workers=2, collate_fn=collate)
        result[(rank, epoch)] = [key for batch in loader for key in batch["image_id"]]


def test_two_processes_and_two_workers_read_every_sample_once_per_epoch(tmp_path):
    keys = write_shards(tmp_path / "shards")
    with mp.Manager() as manager:
        result = manager.dict()
        mp.spawn(_read_epochs, args=(tmp_path / "shards", result), nprocs=2, join=True)
        result = dict(result)
    for epoch in (0, 1):
        seen = result[(0, epoch)] + result[(1, epoch)]
        assert sorted(seen) == sorted(keys)  # each once: no sample lost, none twice
        assert result[(0, epoch)] and result[(1, epoch)]  # both processes read
    assert result[(0, 0)] + result[(1, 0)] != result[(0, 1)] + result[(1, 1)]  # reshuffled per epoch


def test_one_process_reads_the_same_samples_in_a_seeded_order(tmp_path):
    keys = write_shards(tmp_path / "shards")
    first = [k for b in DataLoader(_stream(tmp_path / "shards"), batch_size=4, collate_fn=collate)
             for k in b["image_id"]]
    again = [k for b in DataLoader(_stream(tmp_path / "shards"), batch_size=4, collate_fn=collate)
             for k in b["image_id"]]
    assert sorted(first) == sorted(keys) and first == again and first != keys


def test_bad_samples_are_skipped_and_counted(tmp_path):
    keys = write_shards(tmp_path / "shards", bad={"s1-002", "s3-000"})
    items = list(_stream(tmp_path / "shards", shuffle_buffer=1))
    assert sorted(i["image_id"] for i in items) == sorted(set(keys) - {"s1-002", "s3-000"})
    worker, read, bad = items[-1]["counts"]
    assert (worker, read, bad) == (0, 30, 2)


def test_shard_specs(tmp_path):
    write_shards(tmp_path / "shards", sizes=(2, 2))
    with pytest.raises(RecipeStartError, match=r"matches no shard under .*e.g."):
        shard_urls("other-{0..3}.tar", tmp_path / "shards")
    with pytest.raises(RecipeStartError, match="missing tar shards.*1 of 3"):
        shard_urls("shard-{00000..00002}.tar", tmp_path / "shards")
    assert shard_urls("https://host.example/x-{0..1}.tar", tmp_path) == ["https://host.example/x-0.tar",
                                                                         "https://host.example/x-1.tar"]
    pipe = f"pipe:cat {tmp_path / 'shards/shard-00000.tar'}"
    with pytest.raises(PipeShardsRefused, match="--allow-pipe-shards"):
        shard_urls(pipe, tmp_path)
    stream = ShardStream(shard_urls(pipe, tmp_path, allow_pipe=True), ImageTransform(16, (0.5,) * 3, (0.5,) * 3))
    assert sorted(i["image_id"] for i in stream) == ["s0-000", "s0-001"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="webdataset reads http shards with curl")
def test_url_shards_are_read(tmp_path):
    keys = write_shards(tmp_path / "shards", sizes=(3, 2))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "shards"))
    handler.log_message = lambda *a: None
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        urls = shard_urls(f"http://127.0.0.1:{server.server_port}/shard-{{00000..00001}}.tar", tmp_path)
        got = [i["image_id"] for i in ShardStream(urls, ImageTransform(16, (0.5,) * 3, (0.5,) * 3))]
        server.shutdown()
    assert sorted(got) == sorted(keys)


def _recipe_file(tmp_path, tiny_dir, **overrides):
    recipe = tiny_recipe(tiny_dir("opt", "base"), **{
        "name": "tiny_shards", "data": (), "shards": "shard-{00000..00004}.tar", "shuffle_buffer": 8, "max_steps": 3,
        "batch_size": 4, "image_size": 28, **overrides})
    path = tmp_path / "tiny_shards.json"
    path.write_text(json.dumps(recipe.to_dict()))
    return path


def test_too_many_bad_samples_stop_the_run_and_fewer_are_logged(tiny_dir, tmp_path, capsys):
    write_shards(tmp_path / "data", bad={"s0-001", "s2-004"})  # 2 of 30: 6.7%
    recipe = _recipe_file(tmp_path, tiny_dir, max_steps=10)  # more than an epoch (7 batches of 4)
    argv = ["train", "--recipe", str(recipe), "--data-root", str(tmp_path / "data"), "--quiet"]
    assert main([*argv, "--output", str(tmp_path / "stopped")]) == 2
    assert "2 of 30 samples" in capsys.readouterr().err
    assert main([*argv, "--output", str(tmp_path / "out"), "--set", "max_bad_fraction=0.1"]) == 0
    log = [json.loads(x) for x in (tmp_path / "out/tiny_shards/log.jsonl").read_text().splitlines()]
    assert len(log) == 10
    assert (log[6]["samples_read"], log[6]["bad_samples"]) == (30, 2)  # the first epoch: 28 good samples, 7 steps
    assert log[-1]["samples_read"] > 30 and log[-1]["bad_samples"] >= 2  # counted on into the second epoch
    assert f"{log[-1]['samples_read']} samples read from the shards, {log[-1]['bad_samples']} bad ones skipped" in \
        capsys.readouterr().out


def test_pipe_shards_and_empty_patterns_are_refused_before_training(tiny_dir, tmp_path, capsys):
    recipe = _recipe_file(tmp_path, tiny_dir)
    argv = ["train", "--recipe", str(recipe), "--data-root", str(tmp_path / "nothing"), "--output", str(tmp_path)]
    assert main(argv) == 2
    assert "matches no shard" in capsys.readouterr().err
    assert main([*argv, "--set", "shards=pipe:cat x.tar"]) == 2
    assert "--allow-pipe-shards" in capsys.readouterr().err
    assert not (tmp_path / "tiny_shards").exists()


def _train_worker(rank, port, model_dir, folder, out_dir, result):
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE="2", LOCAL_WORLD_SIZE="2")
    torch.set_num_threads(1)
    recipe = tiny_recipe(model_dir, data=(), shards=str(folder / "shard-*.tar"), shuffle_buffer=1, max_steps=9,
                         batch_size=4)
    recipe = recipe.with_overrides({"shards": "::".join(str(p) for p in sorted(folder.glob("shard-*.tar")))})
    model, data = _model_and_data(model_dir, folder, recipe)
    try:
        out = train(recipe, model, data, out_dir, progress=False)
        result[rank] = (out.steps, out.samples_read)
    except RecipeError as exc:
        result[rank] = str(exc)
    torch.distributed.destroy_process_group()


def _train_two(tiny_dir, folder, out_dir) -> dict:
    with mp.Manager() as manager:
        result = manager.dict()
        context = mp.spawn(_train_worker, args=(_free_port(), tiny_dir("opt", "base"), folder, out_dir, result),
                           nprocs=2, join=False)
        deadline = time.monotonic() + 300  # a hang is a failure, not a stuck suite
        while not context.join(timeout=max(1.0, deadline - time.monotonic())):  # returns as each process ends
            if time.monotonic() > deadline:
                for process in context.processes:
                    process.kill()
                pytest.fail("a process hung at an epoch's end")
        return dict(result)


@pytest.mark.slow
def test_uneven_shards_give_every_process_the_same_steps_per_epoch(tiny_dir, tmp_path):
    """3 shards of 20, 2 and 2 samples over 2 processes, 2 samples per process and step: in each epoch one
    process has 10 or 11 batches and the other 1 or 2. The epoch ends for both when one runs out, so each epoch
    takes 1 or 2 steps on both, and both finish (a process that ran on alone would wait for ever)."""
    write_shards(tmp_path / "data", sizes=(20, 2, 2))
    result = _train_two(tiny_dir, tmp_path / "data", tmp_path / "out")
    assert result[0][0] == result[1][0] == 9
    assert result[0][1] == result[1][1]  # the counts are summed over processes
    log = [json.loads(x) for x in (tmp_path / "out/log.jsonl").read_text().splitlines()]
    steps_per_epoch = [sum(r["epoch"] == e for r in log) for e in sorted({r["epoch"] for r in log})]
    assert max(steps_per_epoch) <= 2 and len(steps_per_epoch) >= 5, steps_per_epoch


@pytest.mark.slow
def test_a_process_with_no_batch_stops_every_process_with_a_clear_error(tiny_dir, tmp_path):
    write_shards(tmp_path / "data", sizes=(20, 1))  # the process given the 1-sample shard has no batch of 2
    result = _train_two(tiny_dir, tmp_path / "data", tmp_path / "out")
    assert all("gave no full batch" in result[rank] for rank in (0, 1)), result
