"""A from-scratch stage-1 Q-Former starts from BERT (paper Sec. 3.1), and the real stage-1 recipes start
from the released frozen ViT files; offline, both fail before the model is built, naming what they tried."""

from __future__ import annotations

import time

import huggingface_hub
import pytest
import torch
import transformers
from safetensors.torch import save_file

import blip2
from blip2.checkpoints.hub import WeightsUnavailable
from blip2.testing import bert_tokenizer, randomize_
from blip2.training import init
from blip2.training.recipe import load_recipe
from blip2.training.run import starting_model
from tests.model.test_checkpoints import to_lavis

# BERT's names, written out here independently of blip2.checkpoints.bert: ours <- BERT's.
LAYER_NAMES = {
    "self_attn.query": "attention.self.query",
    "self_attn.key": "attention.self.key",
    "self_attn.value": "attention.self.value",
    "self_attn.out": "attention.output.dense",
    "self_attn.norm": "attention.output.LayerNorm",
    "text_ffn.fc1": "intermediate.dense",
    "text_ffn.fc2": "output.dense",
    "text_ffn.norm": "output.LayerNorm",
    # the released code starts each query FFN from its layer's text FFN
    "query_ffn.fc1": "intermediate.dense",
    "query_ffn.fc2": "output.dense",
    "query_ffn.norm": "output.LayerNorm",
}


def save_bert(path, qcfg, *, layers=None, hidden=None, head=True, seed=3):
    """A tiny `BertForPreTraining` (`head=False`: `BertModel`) with the Q-Former's sizes, and BERT's own
    tokenizer (no [DEC])."""
    tokenizer = bert_tokenizer(with_dec=False)
    hidden = hidden or qcfg.hidden
    cfg = transformers.BertConfig(vocab_size=len(tokenizer), hidden_size=hidden,
                                  num_hidden_layers=layers or qcfg.layers, num_attention_heads=qcfg.heads,
                                  intermediate_size=qcfg.ffn_dim, max_position_embeddings=qcfg.max_positions,
                                  layer_norm_eps=qcfg.norm_eps)
    torch.manual_seed(seed)
    bert = randomize_((transformers.BertForPreTraining if head else transformers.BertModel)(cfg).eval(), seed)
    bert.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return bert


def _stage1_model(tiny_dir):
    return blip2.load_model(tiny_dir("itm", "base"))


def _check_from_bert(model, before, bert):
    sd, bsd = model.state_dict(), bert.state_dict()
    n = bert.config.vocab_size
    assert torch.equal(sd["qformer.word_embeddings.weight"][:n], bsd["bert.embeddings.word_embeddings.weight"])
    assert torch.equal(sd["qformer.word_embeddings.weight"][n:], before["qformer.word_embeddings.weight"][n:])
    assert torch.equal(sd["qformer.position_embeddings.weight"], bsd["bert.embeddings.position_embeddings.weight"])
    assert torch.equal(sd["qformer.embed_norm.weight"], bsd["bert.embeddings.LayerNorm.weight"])
    for i in range(len(model.qformer.layers)):
        for ours, theirs in LAYER_NAMES.items():
            for wb in ("weight", "bias"):
                a = sd[f"qformer.layers.{i}.{ours}.{wb}"]
                assert torch.equal(a, bsd[f"bert.encoder.layer.{i}.{theirs}.{wb}"]), (i, ours, wb)
    assert torch.equal(sd["itg_head.dense.weight"], bsd["cls.predictions.transform.dense.weight"])
    assert torch.equal(sd["itg_head.norm.bias"], bsd["cls.predictions.transform.LayerNorm.bias"])
    assert torch.equal(sd["itg_head.bias"][:n], bsd["cls.predictions.bias"])
    assert torch.equal(sd["itg_head.bias"][n:], before["itg_head.bias"][n:])
    # the paper's random parts keep their init
    kept = [k for k in sd if ".cross_attn." in k or k.startswith(("qformer.query_tokens", "itm_head", "vision_proj",
                                                                   "text_proj", "temp", "vision."))]
    assert any(".cross_attn." in k for k in kept)
    for key in kept:
        assert torch.equal(sd[key], before[key]), key


def test_bert_weights_land_where_the_paper_puts_them(tiny_dir, tmp_path):
    model = _stage1_model(tiny_dir)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bert = save_bert(tmp_path / "bert", model.cfg.qformer)
    left = init.load_bert(model, tmp_path / "bert")
    _check_from_bert(model, before, bert)
    assert "qformer.query_tokens" in left and any(".cross_attn." in k for k in left)
    assert not any("_ffn." in k or "self_attn" in k for k in left)
    # the query FFN is a copy: training one does not move the other
    layer = model.qformer.layers[0]
    assert layer.query_ffn.fc1.weight.data_ptr() != layer.text_ffn.fc1.weight.data_ptr()
    # BERT's tokenizer gains [DEC] as the ITG bos, right after BERT's vocabulary
    assert model.tokenizer.bos_token == "[DEC]" and model.bos_token_id == bert.config.vocab_size
    assert len(model.tokenizer) == bert.config.vocab_size + 1


def test_2018_layernorm_names_load_the_same(tiny_dir, tmp_path):
    """bert-base-uncased's files still name LayerNorm parameters gamma / beta."""
    model = _stage1_model(tiny_dir)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bert = save_bert(tmp_path / "bert", model.cfg.qformer)
    legacy = {}
    for key, value in bert.state_dict().items():
        key = key.replace("LayerNorm.weight", "LayerNorm.gamma")
        legacy[key.replace("LayerNorm.bias", "LayerNorm.beta")] = value.clone()
    assert any(k.endswith("LayerNorm.gamma") for k in legacy)
    (tmp_path / "bert" / "model.safetensors").unlink()
    save_file(legacy, str(tmp_path / "bert" / "model.safetensors"))
    init.load_bert(model, tmp_path / "bert")
    _check_from_bert(model, before, bert)


@pytest.mark.parametrize("change, message", [
    ({"hidden": 48}, "width"),
    ({"layers": 1}, r"no layer\(s\) \[1\] \(the Q-Former has 2\)"),
    ({"head": False}, "a bare BertModel, with no masked-LM head"),
])
def test_a_bert_of_another_size_is_refused_by_name(tiny_dir, tmp_path, change, message):
    model = _stage1_model(tiny_dir)
    save_bert(tmp_path / "bert", model.cfg.qformer, **change)
    with pytest.raises(ValueError, match=message) as info:
        init.load_bert(model, tmp_path / "bert")
    assert str(tmp_path / "bert") in str(info.value)


def test_a_bert_without_its_masked_lm_head_is_refused(tiny_dir, tmp_path):
    model = _stage1_model(tiny_dir)
    bert = save_bert(tmp_path / "bert", model.cfg.qformer)
    (tmp_path / "bert" / "model.safetensors").unlink()
    save_file({k: v.clone() for k, v in bert.state_dict().items() if k.startswith("bert.")},
              str(tmp_path / "bert" / "model.safetensors"))
    with pytest.raises(ValueError, match=r"no masked-LM head \(cls.predictions"):
        init.load_bert(model, tmp_path / "bert")


def test_bert_init_is_for_stage1_models(tiny_dir, tmp_path):
    model = blip2.load_model(tiny_dir("opt", "base"))
    save_bert(tmp_path / "bert", _stage1_model(tiny_dir).cfg.qformer)
    with pytest.raises(ValueError, match="stage-1 model"):
        init.load_bert(model, tmp_path / "bert")


def test_a_recipe_with_qformer_init_starts_from_bert(tmp_path):
    """The recipe field wires through `starting_model` (toy architecture, a BERT of its size)."""
    recipe = load_recipe("toy_stage1").with_overrides({"vision_init": None, "qformer_tokenizer": None,
                                                        "qformer_init": str(tmp_path / "bert")})
    from blip2.models.build import build_model
    from blip2.zoo import get

    torch.manual_seed(0)  # the ViT's own (timm) init
    reference = build_model(get("toy-qformer").config())
    init.init_trainable(reference, recipe.seed)
    bert = save_bert(tmp_path / "bert", reference.cfg.qformer)
    torch.manual_seed(0)
    model = starting_model(recipe, tmp_path)
    _check_from_bert(model, reference.state_dict(), bert)
    with pytest.raises(ValueError, match="init_from must be null"):
        starting_model(recipe.with_overrides({"init_from": "toy-qformer"}), tmp_path)
    with pytest.raises(ValueError, match="'toy-opt' is not one"):
        starting_model(recipe.with_overrides({"model": "toy-opt"}), tmp_path)
    with pytest.raises(ValueError, match="drop qformer_tokenizer"):
        starting_model(recipe.with_overrides({"qformer_tokenizer": "run:toy_backbones/qformer_tokenizer"}), tmp_path)
    # a folder with BERT's tokenizer but no weights (a partly filled cache) is caught before the build
    bert_tokenizer(with_dec=False).save_pretrained(tmp_path / "tokenizer-only")
    with pytest.raises(WeightsUnavailable, match="holds no weights"):
        starting_model(recipe.with_overrides({"qformer_init": str(tmp_path / "tokenizer-only")}), tmp_path)
    # a local path that does not exist is not looked up on the hub, and the error names the field
    with pytest.raises(FileNotFoundError, match=r"toy_stage1, vision_init 'ckpt/eva_vit_g.pth'"):
        starting_model(recipe.with_overrides({"vision_init": "ckpt/eva_vit_g.pth"}), tmp_path)


def test_a_lavis_vit_file_is_a_vision_init(tiny_dir, tmp_path):
    """`vision_init: "lavis:eva_vit_g.pth"` loads the frozen trunk from LAVIS's file; ln_vision is BLIP-2's."""
    from safetensors.torch import load_file

    path = tiny_dir("itm", "base")
    lavis_state = to_lavis(load_file(path / "model.safetensors"))
    vit = {k.removeprefix("visual_encoder."): v for k, v in lavis_state.items() if k.startswith("visual_encoder.")}
    torch.save(vit, tmp_path / "eva_vit_g.pth")
    reference = blip2.load_model(path)
    model = blip2.load_model(path)
    init.init_trainable(model.vision.trunk, seed=5)
    ln_before = {k: v.clone() for k, v in model.vision.ln_vision.state_dict().items()}
    init.load_vision(model, tmp_path / "eva_vit_g.pth")
    for (name, a), (_, b) in zip(model.vision.trunk.state_dict().items(), reference.vision.trunk.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    for name, value in model.vision.ln_vision.state_dict().items():
        assert torch.equal(value, ln_before[name])


@pytest.mark.parametrize("recipe_name, expected", [
    ("pretrain_stage1_vitg", "eva_vit_g.pth"),
    ("pretrain_stage1_vitl", "clip_vit_L.pth"),
])
def test_real_stage1_recipes_offline_fail_fast_naming_the_files(monkeypatch, tmp_path, recipe_name, expected):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("BLIP2_LAVIS_DIR", str(tmp_path / "lavis"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    recipe = load_recipe(recipe_name)
    start = time.monotonic()
    with pytest.raises(WeightsUnavailable) as info:
        starting_model(recipe, tmp_path)
    assert time.monotonic() - start < 10  # before the 1B-parameter model is built
    assert expected in str(info.value) and str(tmp_path / "lavis") in str(info.value)
    assert "--set vision_init=" in str(info.value)
    with pytest.raises(WeightsUnavailable) as info:
        starting_model(recipe.with_overrides({"vision_init": None}), tmp_path)
    assert "'bert-base-uncased'" in str(info.value) and "--local-dir" in str(info.value)
    assert "--set qformer_init=" in str(info.value)
