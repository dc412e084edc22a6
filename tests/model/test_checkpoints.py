"""Checkpoint formats: LAVIS .pth (mapped by an independent key table), our own format, safety, offline."""

from __future__ import annotations

import os
import time
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import transformers
from safetensors.torch import load_file

import blip2
from blip2.checkpoints.hub import WeightsUnavailable
from blip2.checkpoints.keymap import CheckpointKeyError
from blip2.checkpoints.lavis import load_lavis
from blip2.checkpoints.weights_io import UnsafeCheckpointError
from tests.conftest import random_images

# LAVIS -> transformers names, as documented in the reference facts (written here independently of
# blip2.checkpoints so a mistake in our rules cannot hide in both places).
HF_TO_LAVIS = [
    ("vision_model.embeddings.class_embedding", "visual_encoder.cls_token"),
    ("vision_model.embeddings.patch_embedding.", "visual_encoder.patch_embed.proj."),
    ("vision_model.embeddings.position_embedding", "visual_encoder.pos_embed"),
    ("vision_model.encoder.layers.", "visual_encoder.blocks."),
    (".layer_norm1.", ".norm1."), (".layer_norm2.", ".norm2."),
    (".self_attn.projection.", ".attn.proj."), (".self_attn.qkv.weight", ".attn.qkv.weight"),
    ("vision_model.post_layernorm.", "ln_vision."),
    ("qformer.layernorm.", "Qformer.bert.embeddings.LayerNorm."),
    ("qformer.encoder.", "Qformer.bert.encoder."), (".attention.attention.", ".attention.self."),
    (".crossattention.attention.", ".crossattention.self."),
    ("embeddings.word_embeddings.", "Qformer.bert.embeddings.word_embeddings."),
    ("embeddings.position_embeddings.", "Qformer.bert.embeddings.position_embeddings."),
    ("vision_projection.", "vision_proj."), ("text_projection.", "text_proj."),
    ("language_projection.", "opt_proj."), ("language_model.", "opt_model."),
]


def to_lavis(hf_state: dict) -> dict:
    out = {}
    for key, value in hf_state.items():
        if key.endswith("self_attn.qkv.bias"):  # transformers fuses LAVIS's q_bias / v_bias
            stem = key.replace("vision_model.encoder.layers.", "visual_encoder.blocks.").replace(
                ".self_attn.qkv.bias", ".attn.")
            q, _, v = value.chunk(3)
            out[stem + "q_bias"], out[stem + "v_bias"] = q, v
            continue
        for theirs, lavis in HF_TO_LAVIS:
            key = key.replace(theirs, lavis)
        out[key] = value
    return out


@pytest.fixture
def itm_lavis(tiny_dir, tmp_path):
    path = tiny_dir("itm", "base")
    state = to_lavis(load_file(path / "model.safetensors"))
    hidden = state["Qformer.bert.embeddings.LayerNorm.weight"].shape[0]
    words = state["Qformer.bert.embeddings.word_embeddings.weight"]
    torch.manual_seed(3)
    state.update({
        "temp": torch.tensor(0.05),
        "Qformer.bert.embeddings.position_ids": torch.arange(64)[None],
        "Qformer.cls.predictions.transform.dense.weight": torch.randn(hidden, hidden),
        "Qformer.cls.predictions.transform.dense.bias": torch.randn(hidden),
        "Qformer.cls.predictions.transform.LayerNorm.weight": torch.ones(hidden),
        "Qformer.cls.predictions.transform.LayerNorm.bias": torch.zeros(hidden),
        "Qformer.cls.predictions.bias": torch.randn(words.shape[0]),
        "Qformer.cls.predictions.decoder.weight": words.clone(),
    })
    state["Qformer.cls.predictions.decoder.bias"] = state["Qformer.cls.predictions.bias"].clone()
    file = tmp_path / "blip2_pretrained.pth"
    torch.save({"model": state}, file)
    return path, file, state


def test_lavis_stage1_file_matches_transformers(itm_lavis):
    path, file, state = itm_lavis
    cfg = blip2.load_model(path).cfg
    ours, facts = load_lavis(file, cfg)
    ref = transformers.Blip2ForImageTextRetrieval.from_pretrained(path).eval()
    tok = transformers.AutoTokenizer.from_pretrained(path)
    enc = tok(["a red circle", "two stars"], padding="max_length", max_length=8, return_tensors="pt")
    pixels = blip2.image_transform(ours).batch(random_images(2, seed=2))
    with torch.no_grad():
        theirs = ref(pixel_values=pixels, input_ids=enc.input_ids, attention_mask=enc.attention_mask,
                     use_image_text_matching_head=True).logits_per_image
        mine = ours.itm_logits(ours.vision(pixels), enc.input_ids, enc.attention_mask)
    torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)
    assert float(ours.temp.detach()) == pytest.approx(0.05)  # the heads transformers drops do load from LAVIS
    assert torch.equal(ours.itg_head.bias, state["Qformer.cls.predictions.bias"])
    assert facts["format"] == "lavis" and facts["left_at_init"] == []


def test_lavis_untied_itg_decoder_is_refused(itm_lavis, tmp_path):
    _, _, state = itm_lavis
    state = dict(state)
    state["Qformer.cls.predictions.decoder.weight"] = state["Qformer.cls.predictions.decoder.weight"] + 1
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    cfg = blip2.load_model(itm_lavis[0]).cfg
    with pytest.raises(ValueError, match="ties them"):
        load_lavis(bad, cfg)


def test_lavis_unexpected_and_missing_keys_are_listed(itm_lavis, tmp_path):
    path, _, state = itm_lavis
    state = dict(state)
    state["Qformer.bert.encoder.layer.0.mystery.weight"] = torch.zeros(2)
    del state["itm_head.bias"]
    bad = tmp_path / "bad.pth"
    torch.save({"model": state}, bad)
    with pytest.raises(CheckpointKeyError) as info:
        load_lavis(bad, blip2.load_model(path).cfg)
    assert "Qformer.bert.encoder.layer.0.mystery.weight" in str(info.value)
    assert "itm_head.bias" in str(info.value)


def test_lavis_stage2_composes_vit_file_and_local_llm(tiny_dir, tmp_path):
    """A LAVIS stage-2 file holds only trained parts; the ViT file and the LLM folder complete it."""
    path = tiny_dir("opt", "base")
    ref = transformers.Blip2ForConditionalGeneration.from_pretrained(path).eval()
    state = to_lavis(load_file(path / "model.safetensors"))
    vit = {k.removeprefix("visual_encoder."): v for k, v in state.items() if k.startswith("visual_encoder.")}
    trained = {k: v for k, v in state.items() if not k.startswith(("visual_encoder.", "opt_model."))}
    torch.save({"model": trained}, tmp_path / "blip2_pretrained_opt.pth")
    torch.save(vit, tmp_path / "eva_vit_g.pth")
    ref.language_model.save_pretrained(tmp_path / "llm")
    cfg = blip2.load_model(path).cfg
    ours, facts = load_lavis(tmp_path / "blip2_pretrained_opt.pth", cfg, vision_file=tmp_path / "eva_vit_g.pth",
                             llm_source=tmp_path / "llm")
    assert len(facts["files"]) == 2
    pixels = torch.randn(2, 3, cfg.vision.image_size, cfg.vision.image_size)
    ids = torch.tensor([[2, 5, 9, 11], [2, 7, 7, 3]])
    with torch.no_grad():
        soft = ours.soft_prompt(ours.query_output(pixels))
        embeds = torch.cat([soft, ours.llm.get_input_embeddings()(ids)], 1)
        mine = ours.llm(inputs_embeds=embeds).logits
        image_tokens = torch.full((2, cfg.qformer.num_queries), ref.config.image_token_index)
        theirs = ref(pixel_values=pixels, input_ids=torch.cat([image_tokens, ids], 1)).logits
    torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)


class _Payload:
    """Unpickling this would create a file: a side effect the test can look for."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_pickle_with_code_is_refused_and_the_code_does_not_run(tmp_path, tiny_dir):
    file, marker = tmp_path / "evil.pth", tmp_path / "pwned"
    torch.save({"model": {"x": torch.zeros(1)}, "payload": _Payload(marker)}, file)
    cfg = blip2.load_model(tiny_dir("itm", "base")).cfg
    with pytest.raises(UnsafeCheckpointError, match="refused to unpickle"):
        load_lavis(file, cfg)
    with pytest.raises(UnsafeCheckpointError, match="refused to unpickle"):
        blip2.load_model(file, arch="vitg-qformer")
    assert not marker.exists()  # the payload never ran
    torch.load(file, weights_only=False)  # the payload is real: unpickling it the unsafe way runs it
    assert marker.exists()


def test_native_format_roundtrip(tiny_dir, tmp_path):
    model = blip2.load_model(tiny_dir("t5", "wide"))
    blip2.save_model(model, tmp_path / "mine")
    again = blip2.load_model(tmp_path / "mine")
    assert again.cfg == model.cfg
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    images = random_images(2, seed=1)
    assert blip2.caption(again, images, max_new_tokens=4) == blip2.caption(model, images, max_new_tokens=4)


def test_zoo_name_offline_fails_fast_with_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("BLIP2_LAVIS_DIR", str(tmp_path))
    start = time.monotonic()
    with pytest.raises(WeightsUnavailable) as info:
        blip2.load_model("vitg-opt2.7b")
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "Salesforce/blip2-opt-2.7b" in message
    assert "https://storage.googleapis.com/sfr-vision-language-research/LAVIS/models/BLIP2/" \
           "blip2_pretrained_opt2.7b.pth" in message
    assert "--model" in message and str(tmp_path) in message


def test_unreleased_zoo_model_says_how_to_make_it():
    with pytest.raises(WeightsUnavailable, match="no released checkpoint"):
        blip2.load_model("vitg-opt2.7b-vqa")


def test_lavis_file_without_arch_is_explained(tmp_path):
    file = tmp_path / "x.pth"
    torch.save({"a": torch.zeros(1)}, file)
    with pytest.raises(ValueError, match="--arch"):
        blip2.load_model(file)


# --- CLIP ViT-L: checked against an OpenAI-CLIP-layout reference written here ------------------------


class _ClipBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict(c_fc=nn.Linear(width, 4 * width), c_proj=nn.Linear(4 * width, width)))

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        h = self.mlp.c_fc(self.ln_2(x))
        return x + self.mlp.c_proj(h * torch.sigmoid(1.702 * h))  # QuickGELU


class _ClipVisual(nn.Module):
    def __init__(self, size=28, patch=14, width=32, layers=2, heads=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width))
        self.positional_embedding = nn.Parameter(torch.randn((size // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = nn.Module()
        self.transformer.resblocks = nn.Sequential(*[_ClipBlock(width, heads) for _ in range(layers)])

    def forward(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.expand(x.shape[0], 1, -1), x], 1) + self.positional_embedding
        return self.transformer.resblocks(self.ln_pre(x))


def test_clip_vit_l_mapping_matches_openai_layout(tmp_path):
    from blip2.config import Blip2Config, QFormerConfig, VisionConfig
    from blip2.testing import randomize_

    torch.manual_seed(0)
    clip = randomize_(_ClipVisual(layers=3)).eval()  # the file has one block more than BLIP-2 keeps
    cfg = Blip2Config(vision=VisionConfig("clip_vit_l", 28, 14, 32, 2, 4, 128, 1e-5, 1e-5),
                      qformer=QFormerConfig(hidden=16, layers=1, heads=2, ffn_dim=24, vision_width=32,
                                            num_queries=2, with_text=True, vocab_size=40, max_positions=16))
    stage1 = randomize_(blip2.build_model(cfg), seed=1)
    trained = {k: v for k, v in stage1.state_dict().items() if not k.startswith("vision.trunk.")}
    lavis = to_lavis_from_ours(trained, clip.state_dict())
    torch.save({"model": lavis}, tmp_path / "blip2_pretrained_vitL.pth")
    ours, _ = load_lavis(tmp_path / "blip2_pretrained_vitL.pth", cfg)
    pixels = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        expected = stage1.vision.ln_vision(_truncated(clip, 2)(pixels))
        torch.testing.assert_close(ours.vision(pixels), expected, atol=1e-5, rtol=0)


def _truncated(clip, depth):
    def run(x):
        x = clip.conv1(x).flatten(2).transpose(1, 2)
        x = torch.cat([clip.class_embedding.expand(x.shape[0], 1, -1), x], 1) + clip.positional_embedding
        x = clip.ln_pre(x)
        for block in list(clip.transformer.resblocks)[:depth]:
            x = block(x)
        return x
    return run


def to_lavis_from_ours(trained: dict, clip_state: dict) -> dict:
    """Our trained parts renamed to LAVIS (inverse of the facts table) plus the CLIP tower as visual_encoder."""
    out = {"visual_encoder." + k: v for k, v in clip_state.items()}
    names = {"vision.ln_vision.": "ln_vision.", "qformer.query_tokens": "query_tokens",
             "qformer.embed_norm.": "Qformer.bert.embeddings.LayerNorm.",
             "qformer.word_embeddings.": "Qformer.bert.embeddings.word_embeddings.",
             "qformer.position_embeddings.": "Qformer.bert.embeddings.position_embeddings.",
             "itg_head.dense.": "Qformer.cls.predictions.transform.dense.",
             "itg_head.norm.": "Qformer.cls.predictions.transform.LayerNorm.",
             "itg_head.bias": "Qformer.cls.predictions.bias"}
    layer = {"self_attn.query": "attention.self.query", "self_attn.key": "attention.self.key",
             "self_attn.value": "attention.self.value", "self_attn.out": "attention.output.dense",
             "self_attn.norm": "attention.output.LayerNorm", "cross_attn.query": "crossattention.self.query",
             "cross_attn.key": "crossattention.self.key", "cross_attn.value": "crossattention.self.value",
             "cross_attn.out": "crossattention.output.dense", "cross_attn.norm": "crossattention.output.LayerNorm",
             "query_ffn.fc1": "intermediate_query.dense", "query_ffn.fc2": "output_query.dense",
             "query_ffn.norm": "output_query.LayerNorm", "text_ffn.fc1": "intermediate.dense",
             "text_ffn.fc2": "output.dense", "text_ffn.norm": "output.LayerNorm"}
    for key, value in trained.items():
        new = key
        for ours, theirs in names.items():
            new = new.replace(ours, theirs) if new.startswith(ours) else new
        if key.startswith("qformer.layers."):
            _, _, idx, rest = key.split(".", 3)
            sub, leaf = rest.rsplit(".", 1)
            new = f"Qformer.bert.encoder.layer.{idx}.{layer[sub]}.{leaf}"
        out[new] = value
    return out


def test_preprocessor_image_size_wins_and_positions_are_resized(tiny_dir, tmp_path):
    """A transformers folder's image processor decides the input size; the position table follows it."""
    import json
    import shutil

    src = tiny_dir("opt", "base")
    dst = tmp_path / "bigger"
    shutil.copytree(src, dst)
    config = json.loads((dst / "processor_config.json").read_text())
    config["image_processor"]["size"] = {"height": 42, "width": 42}
    (dst / "processor_config.json").write_text(json.dumps(config))
    model = blip2.load_model(dst)
    assert model.cfg.vision.image_size == 42
    assert model.vision.trunk.pos_embed.shape[1] == 1 + 3 * 3
    assert blip2.image_transform(model).size == 42
    assert isinstance(blip2.caption(model, random_images(1), max_new_tokens=3)[0], str)


def test_sharded_and_single_weight_folders_read_the_same(tiny_dir, tmp_path):
    """transformers' sharded layout (an index plus shards) gives the same tensors as one file."""
    from blip2.checkpoints.weights_io import has_weight_files, read_weight_files

    model = transformers.Blip2ForImageTextRetrieval.from_pretrained(tiny_dir("itm", "base"))
    model.save_pretrained(tmp_path / "sharded", max_shard_size="100KB")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").exists()
    sharded, files = read_weight_files(tmp_path / "sharded")
    single, _ = read_weight_files(tiny_dir("itm", "base"))
    assert len(files) > 1 and sharded.keys() == single.keys()
    assert all(torch.equal(sharded[k], single[k]) for k in single)
    assert has_weight_files(tmp_path / "sharded") and not has_weight_files(tmp_path)
    with pytest.raises(FileNotFoundError, match="looked for model.safetensors.index.json"):
        read_weight_files(tmp_path)
