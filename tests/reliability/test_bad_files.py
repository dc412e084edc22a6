"""Bad files get named errors: exit 2, a message naming the file (or flag, or id) and the fix, no traceback.

Weights, images, scores and recipes are damaged the way they are in practice (a download cut short, a
16-bit scan, an annotation path pointing elsewhere) and fed to the CLI; where the check belongs before
compute, the test also holds that no model was loaded and no run folder was written.
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib

import huggingface_hub
import numpy as np
import pytest
import torch
import transformers
from PIL import Image
from safetensors.torch import load_file, save_file

import blip2
from bench.cli import main
from bench.runner.images import ImageFiles
from blip2.models.blip2_qformer import itc_similarity
from blip2.processing import ImageTransform, UnsupportedImageError, to_rgb
from tests.conftest import random_images
from tests.reliability.conftest import coco_path
from tests.reliability.test_resume_and_processes import folder, run_args


def refused(capsys, code: int, *names: str) -> str:
    """Exit 2, every name in the one-line message, no traceback; returns stderr."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for name in names:
        assert str(name) in err, (name, err)
    return err


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if the run gets as far as loading the model."""
    def load(*args, **kwargs):
        raise AssertionError("the model was loaded before the check")
    monkeypatch.setattr(blip2, "load_model", load)


# --- weights --------------------------------------------------------------------------------------------


def copy_model(tiny_dir, tmp_path, kind="itm"):
    return shutil.copytree(tiny_dir(kind, "base"), tmp_path / f"model-{kind}")


DAMAGES = {
    "truncated": lambda data: data[: len(data) // 2],
    "empty": lambda data: b"",
    "garbage": lambda data: b"<html>503 Service Unavailable</html>" * 20,
}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("file", ["model.safetensors", "pytorch_model.bin"])
def test_damaged_weight_file_is_named_with_the_download_fix(tiny_dir, data_root, tmp_path, capsys, damage, file):
    model = copy_model(tiny_dir, tmp_path)
    weights = model / file
    if file == "pytorch_model.bin":  # the pickled layout, when a folder has no safetensors
        torch.save(load_file(model / "model.safetensors"), weights)
        (model / "model.safetensors").unlink()
    weights.write_bytes(DAMAGES[damage](weights.read_bytes()))
    code = main(run_args(model, data_root, tmp_path / "out", "flickr30k"))
    err = refused(capsys, code, weights)
    assert "interrupted download" in err and "download" in err.split("interrupted download")[1]
    assert not (tmp_path / "out").exists()


def test_tensor_of_the_wrong_shape_names_the_tensor_and_both_shapes(tiny_dir, data_root, tmp_path, capsys):
    model = copy_model(tiny_dir, tmp_path)
    state = load_file(model / "model.safetensors")
    rows, cols = state["itm_head.weight"].shape
    state["itm_head.weight"] = torch.zeros(rows, cols + 1)
    save_file(state, str(model / "model.safetensors"), metadata={"format": "pt"})
    code = main(run_args(model, data_root, tmp_path / "out", "flickr30k"))
    err = refused(capsys, code, model, "itm_head.weight", f"({rows}, {cols + 1})", f"({rows}, {cols})")
    assert "wrong shape" in err
    assert not (tmp_path / "out").exists()


@pytest.fixture
def sharded(tiny_dir, tmp_path):
    """The tiny retrieval checkpoint saved by transformers in several safetensors shards."""
    path = tmp_path / "sharded"
    transformers.Blip2ForImageTextRetrieval.from_pretrained(tiny_dir("itm", "base")).save_pretrained(
        path, max_shard_size="100KB")
    shards = sorted(path.glob("model-*.safetensors"))
    assert len(shards) > 2
    return path, shards


def test_missing_shard_is_named(sharded, data_root, tmp_path, capsys):
    path, shards = sharded
    shards[1].unlink()
    code = main(run_args(path, data_root, tmp_path / "out", "flickr30k"))
    err = refused(capsys, code, path, shards[1].name, "model.safetensors.index.json")
    assert "missing" in err and "download" in err
    assert not (tmp_path / "out").exists()


def test_truncated_shard_is_named(sharded, data_root, tmp_path, capsys):
    path, shards = sharded
    shards[-1].write_bytes(shards[-1].read_bytes()[:100])
    code = main(run_args(path, data_root, tmp_path / "out", "flickr30k"))
    refused(capsys, code, shards[-1], "interrupted download")


# --- images ---------------------------------------------------------------------------------------------


def write_png(path, pixels: np.ndarray, bit_depth: int = 8, width: int | None = None, height: int | None = None):
    """A PNG written by hand: grayscale (2-D) or RGB (3-D) samples of `bit_depth` bits, or only a header
    claiming `width` x `height` (what a decompression bomb looks like before it is decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    h, w = pixels.shape[:2]
    color = 0 if pixels.ndim == 2 else 2
    dtype = ">u2" if bit_depth == 16 else "u1"
    raw = b"".join(b"\x00" + row.astype(dtype).tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", width or w, height or h, bit_depth, color, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


def bomb(path):
    write_png(path, np.zeros((1, 1), np.uint8), width=60000, height=60000)  # 3.6e9 pixels in 60 bytes


@pytest.mark.parametrize("workers", ["0", "1"])
def test_decompression_bomb_is_a_named_error(tiny_dir, data_root, tmp_path, capsys, workers):
    """Also from a DataLoader worker, whose errors torch re-raises with the worker's traceback as text."""
    bomb(coco_path(data_root, 5))
    model = tiny_dir("opt", "base")
    code = main(run_args(model, data_root, tmp_path, "vqav2", "--num-workers", workers))
    err = refused(capsys, code, coco_path(data_root, 5), "sample 50")
    assert "decompression bomb" in err and "--skip-bad" in err
    assert not (folder(tmp_path, model, "vqav2-val") / "metrics.json").exists()


def test_skip_bad_skips_a_decompression_bomb(tiny_dir, data_root, tmp_path):
    bomb(coco_path(data_root, 5))
    model = tiny_dir("opt", "base")
    assert main(run_args(model, data_root, tmp_path, "vqav2", "--skip-bad")) == 0
    record = json.loads((folder(tmp_path, model, "vqav2-val") / "metrics.json").read_text())
    assert record["partial"] is True and sorted(record["skipped"]["ids"]) == [50, 51, 52]
    assert all("decompression bomb" in reason for reason in record["skipped"]["reasons"])


@pytest.mark.parametrize("color", ["gray", "rgb"])
def test_a_16_bit_image_gives_the_pixels_of_its_8_bit_version(tmp_path, color):
    """65535 is white: scaled by bit depth, a 16-bit file equals the same picture stored in 8 bits."""
    rng = np.random.default_rng(3)
    shape = (20, 28) if color == "gray" else (20, 28, 3)
    picture = rng.integers(0, 256, shape, dtype=np.uint8)
    write_png(tmp_path / "p8.png", picture)
    write_png(tmp_path / "p16.png", picture.astype(np.uint16) * 257, bit_depth=16)
    files = ImageFiles([tmp_path / "p8.png", tmp_path / "p16.png"], ["p8", "p16"], ImageTransform(28))
    (_, eight), (_, sixteen) = files[0], files[1]
    assert torch.equal(eight, sixteen)
    assert eight.std() > 0.1  # a real picture, not a flat one where any scaling would agree
    with Image.open(tmp_path / "p16.png") as image:
        if image.mode.startswith("I"):  # what plain convert("RGB") makes of it: clipped to white
            assert not np.array_equal(np.asarray(image.convert("RGB")), np.asarray(to_rgb(image)))


def test_an_image_with_no_known_value_range_is_refused():
    with pytest.raises(UnsupportedImageError, match="floating-point"):
        to_rgb(Image.new("F", (4, 4), 0.5))


def test_an_image_path_that_is_a_directory_is_named_before_compute(tiny_dir, data_root, tmp_path, capsys,
                                                                    no_model_load):
    path = coco_path(data_root, 7)
    path.unlink()
    path.mkdir()
    code = main(run_args(tiny_dir("opt", "base"), data_root, tmp_path))
    err = refused(capsys, code, path)
    assert "directories, not image files" in err
    assert not (tmp_path / tiny_dir("opt", "base").name).exists()


def point_flickr_image_at(data_root, value):
    annotations = data_root / "flickr30k/dataset_flickr30k.json"
    data = json.loads(annotations.read_text())
    data["images"][0]["filename"] = str(value)
    annotations.write_text(json.dumps(data))
    return annotations


@pytest.mark.parametrize("how", ["dotdot", "absolute"])
def test_an_image_path_leaving_the_data_root_is_refused_unless_allowed(tiny_dir, data_root, tmp_path, capsys,
                                                                        monkeypatch, how):
    outside = tmp_path / "elsewhere" / "100.jpg"
    outside.parent.mkdir()
    shutil.copy(data_root / "flickr30k/images/100.jpg", outside)
    value = "../../../elsewhere/100.jpg" if how == "dotdot" else outside  # relative to data/flickr30k/images
    annotations = point_flickr_image_at(data_root, value)
    model = tiny_dir("itm", "base")
    with monkeypatch.context() as patch:
        patch.setattr(blip2, "load_model", lambda *a, **k: pytest.fail("model loaded before the check"))
        code = main(run_args(model, data_root, tmp_path / "out", "flickr30k"))
    refused(capsys, code, annotations, "--allow-outside-data-root", "elsewhere")
    assert not (tmp_path / "out").exists()
    assert main(run_args(model, data_root, tmp_path / "out", "flickr30k", "--allow-outside-data-root")) == 0


def test_a_symlinked_folder_inside_the_data_root_stays_fine(data_root, tmp_path):
    import tasks

    images = data_root / "flickr30k/images"
    shutil.move(images, tmp_path / "real-images")
    images.symlink_to(tmp_path / "real-images", target_is_directory=True)
    loaded = tasks.get("flickr30k").load(data_root)
    assert [p.name for p in loaded.image_paths] == ["100.jpg", "101.jpg"]


# --- scores and recipes ---------------------------------------------------------------------------------


def test_inf_scores_are_an_error(data_root, tmp_path, capsys):
    scores = tmp_path / "scores.npz"
    i2t = np.zeros((2, 4))
    i2t[0, 3] = np.inf
    np.savez(scores, i2t=i2t, t2i=np.zeros((4, 2)))
    code = main(["score", "--task", "flickr30k", "--predictions", str(scores), "--data-root", str(data_root)])
    refused(capsys, code, scores, "inf", "[0, 3]", "i2t")


def test_an_npy_given_for_an_npz_is_an_error(data_root, tmp_path, capsys):
    scores = tmp_path / "i2t.npy"
    np.save(scores, np.zeros((2, 4)))
    code = main(["score", "--task", "flickr30k", "--predictions", str(scores), "--data-root", str(data_root)])
    refused(capsys, code, scores, "np.savez")


def train(tmp_path, *args):
    return main(["train", *args, "--output", str(tmp_path / "train"), "--data-root", str(tmp_path / "data"),
                 "--quiet"])


def test_unknown_recipe_is_named_with_the_known_ones(tmp_path, capsys):
    refused(capsys, train(tmp_path, "--recipe", "pretrain_stage9"), "'pretrain_stage9'", "pretrain_stage1_vitg")
    assert not (tmp_path / "train").exists()


def test_unknown_set_field_is_named(tmp_path, capsys):
    code = train(tmp_path, "--recipe", "pretrain_stage1_vitg", "--set", "learning_rate=1e-5")
    refused(capsys, code, "learning_rate", "--set", "lr")
    assert not (tmp_path / "train").exists()


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"name": "x", "stage": "stage1", "model": "m", '
                                                            '"max_steps": 1, "learnig_rate": 1}'])
def test_recipe_file_that_is_not_a_recipe_is_named(tmp_path, capsys, text):
    recipe = tmp_path / "mine.json"
    recipe.write_text(text)
    refused(capsys, train(tmp_path, "--recipe", str(recipe)), recipe)
    assert not (tmp_path / "train").exists()


def test_real_recipe_whose_previous_stage_is_missing_exits_2(tmp_path, capsys, no_model_load):
    code = train(tmp_path, "--recipe", "pretrain_stage2_vitg_opt2.7b", "--set", "max_steps=1")
    refused(capsys, code, "recipe:pretrain_stage1_vitg", "--recipe pretrain_stage1_vitg")
    assert not (tmp_path / "train" / "pretrain_stage2_vitg_opt2.7b").exists()


def test_real_recipe_whose_released_weights_are_not_here_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("BLIP2_LAVIS_DIR", str(tmp_path / "lavis"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    code = train(tmp_path, "--recipe", "pretrain_stage1_vitg", "--set", "max_steps=1")
    refused(capsys, code, "eva_vit_g.pth", tmp_path / "lavis", "--set vision_init=")
    assert not (tmp_path / "train" / "pretrain_stage1_vitg").exists()


# --- a valid transformers checkpoint ----------------------------------------------------------------------


def test_a_trained_eva_k_bias_loads_and_matches_transformers(tiny_dir, tmp_path):
    """transformers 5 trains the whole fused qkv bias; its k part shifts every logit of a query equally, so
    dropping it leaves the outputs as transformers computes them."""
    ref = transformers.Blip2ForImageTextRetrieval.from_pretrained(tiny_dir("itm", "base")).eval()
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if name.endswith("self_attn.qkv.bias"):
                p.view(3, -1)[1].copy_(torch.randn(p.shape[0] // 3, generator=gen))
    path = tmp_path / "k-bias"
    shutil.copytree(tiny_dir("itm", "base"), path)
    ref.save_pretrained(path)
    biases = [v for k, v in load_file(path / "model.safetensors").items() if k.endswith("qkv.bias")]
    assert biases and all(torch.count_nonzero(b.view(3, -1)[1]) for b in biases)

    ours = blip2.load_model(path)
    tok = transformers.AutoTokenizer.from_pretrained(path)
    texts = ["a red circle", "two blue squares", "a star"]
    enc = tok(texts, padding="max_length", max_length=12, truncation=True, return_tensors="pt")
    pixels = blip2.image_transform(ours).batch(random_images(len(texts), seed=5))
    with torch.no_grad():
        itm = ref(pixel_values=pixels, input_ids=enc.input_ids, attention_mask=enc.attention_mask,
                  use_image_text_matching_head=True).logits_per_image
        itc = ref(pixel_values=pixels, input_ids=enc.input_ids, attention_mask=enc.attention_mask).logits_per_image
        mine_itm = ours.itm_logits(ours.vision(pixels), enc.input_ids, enc.attention_mask)
        _, queries, _ = ours.encode_image(pixels)
        mine_itc = itc_similarity(ours.image_itc_features(queries),
                                  ours.text_itc_features(enc.input_ids, enc.attention_mask))
    torch.testing.assert_close(mine_itm, itm, atol=1e-5, rtol=0)
    torch.testing.assert_close(mine_itc, itc, atol=1e-5, rtol=0)
