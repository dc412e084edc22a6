"""The public Python API: load a BLIP-2 model by name or path, then caption, answer, and score.

    model = blip2.load_model("vitg-opt2.7b")              # zoo name, HF dir/id, our dir
    blip2.caption(model, [img])                           # -> ["a dog on a couch"]
    blip2.answer(model, [img], ["what is this?"], prompt)  # -> ["dog"]
    blip2.itm_scores(model, [img], ["a dog", "a cat"], max_text_tokens=n)  # match probabilities [1, 2]

The evaluation protocol (the paper's prompts, the retrieval text limit) belongs to the tasks layer,
which this package does not import: a caller passes the prompt and the text limit, e.g. from
``tasks.get("vqav2").settings("opt").prompt`` and ``tasks.get("coco_retrieval").settings().max_text_tokens``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import transformers
from PIL import Image

from . import zoo
from .checkpoints.bert import BERT_HUB_ID, load_bert_tokenizer
from .checkpoints.checksum import ExpectedDigest, verify_sha256
from .checkpoints.hf import load_hf_dir
from .checkpoints.hub import WeightsUnavailable, hf_snapshot, lavis_file
from .checkpoints.lavis import load_lavis
from .checkpoints.native import is_native_dir, load_native
from .errors import ModelSourceError, UnknownModelError
from .models import fast
from .models.blip2_lm import Blip2LM
from .models.blip2_qformer import Blip2Qformer, itc_similarity
from .precision import apply_precision
from .processing import ImageTransform
from .suggest import did_you_mean

Model = Blip2Qformer | Blip2LM


def load_model(
    name_or_path: str | Path,
    *,
    arch: str | None = None,
    device: str = "cpu",
    precision: str = "auto",
    vision_file: str | Path | None = None,
    llm: str | Path | None = None,
    expect_sha256: str | None = None,
) -> Model:
    """Load a BLIP-2 model, ready for inference, from any supported source.

    - a zoo name (`blip2.zoo.names()`): its Hugging Face repo, else its LAVIS files;
    - a transformers BLIP-2 folder (`save_pretrained`) or hub id;
    - a folder in our own format (`blip2.save_model`);
    - a LAVIS `.pth` file, with `arch=<zoo name>` saying which architecture it holds.
    `vision_file` and `llm` override where a LAVIS model's frozen ViT and LLM come from.
    `expect_sha256` is ``HEX`` or ``FILE=HEX``: the sha256 of the checkpoint's weight file, or of the one named
    when it is read from several (shards, a LAVIS file and its ViT's file); a local file is checked before it is
    read. ``model.source["checked_sha256"]`` then says which file was checked.
    """
    expected = ExpectedDigest.parse(expect_sha256) if expect_sha256 else None
    if expected is not None and Path(name_or_path).is_file() and expected.names(Path(name_or_path)):
        verify_sha256([Path(name_or_path)], expected)
    model, facts = _load(str(name_or_path), arch, vision_file, llm)
    if expected is not None:
        facts["checked_sha256"] = verify_sha256([Path(f) for f in facts.get("files", [])], expected)
    model.source = facts  # provenance: format, files, what stayed at init
    model.precision = apply_precision(model, precision, device)
    model.eval()
    freeze_frozen_parts(model)
    return model


def missing_weights(name_or_path: str | Path, arch: str | None = None) -> str | None:
    """Why `load_model(name_or_path)` could not find weights without downloading; None when they are here.

    Cheap and local-only, so a run can report missing weights and missing data together, before any
    compute (a download, if the network allows, happens later in `load_model`).
    """
    name = str(name_or_path)
    path = Path(name)
    if path.exists():
        return None if path.is_dir() or arch else f"{path}: a LAVIS checkpoint needs --arch <zoo name>"
    if name not in zoo.ZOO:
        return None if "/" in name else f"{name!r} is not a zoo name, a local folder or a file"
    entry = zoo.get(name)
    if not entry.released:
        return f"{name}: no released checkpoint exists ({entry.note})"
    if entry.local_dir:
        folder = entry.local_dir
        return None if is_native_dir(folder) else _missing_shipped_weights(entry)
    problems = []
    for source, fetch in ((entry.hf_id, hf_snapshot), (entry.lavis_file, lavis_file)):
        if source:
            try:
                fetch(source, local_only=True)
                return None
            except WeightsUnavailable as exc:
                problems.append(str(exc))
    return f"{name}: weights are not available locally. Either of these gives them:\n- " + "\n- ".join(problems)


def _missing_shipped_weights(entry: zoo.ZooEntry) -> str:
    return (f"{entry.name}: its committed weights {entry.local_dir} are missing"
            + (f"; rebuild them with `{entry.rebuild}`" if entry.rebuild else ""))


def _load(name: str, arch: str | None, vision_file, llm) -> tuple[Model, dict[str, Any]]:
    path = Path(name)
    if name in zoo.ZOO and not path.exists():
        return _load_zoo(zoo.get(name), vision_file, llm)
    if path.is_dir():
        if is_native_dir(path):
            return load_native(path)
        if (path / "config.json").is_file():
            model, facts = load_hf_dir(path)
            _attach_tokenizers(model, path)
            return model, facts | {"source": str(path)}
        raise ModelSourceError(f"{path}: neither a transformers BLIP-2 folder (config.json) nor a blip2-bench folder "
                         "(blip2_config.json)")
    if path.is_file():
        if arch is None:
            raise ModelSourceError(f"{path}: a LAVIS checkpoint needs --arch <zoo name> to say which model it holds "
                             f"(one of: {', '.join(zoo.names())})")
        return _load_lavis_entry(zoo.get(arch), path, vision_file, llm)
    if "/" in name and not name.startswith((".", "/")):
        folder = hf_snapshot(name)
        model, facts = load_hf_dir(folder, source=name)
        _attach_tokenizers(model, folder)
        return model, facts | {"source": name}
    raise UnknownModelError(f"{name!r} is not a zoo name, a local folder, a file or a hub id."
                            f"{did_you_mean(name, zoo.names())} Zoo names: {', '.join(zoo.names())}")


def _load_zoo(entry: zoo.ZooEntry, vision_file, llm) -> tuple[Model, dict[str, Any]]:
    if not entry.released:
        raise WeightsUnavailable(f"{entry.name}: no released checkpoint exists ({entry.note}). Train it with the "
                                 f"recipes in blip2.training, then pass the output folder as --model.")
    if entry.local_dir:
        folder = entry.local_dir
        if not is_native_dir(folder):
            raise WeightsUnavailable(_missing_shipped_weights(entry))
        model, facts = load_native(folder)
        return model, facts | {"source": str(folder), "zoo": entry.name}
    tried = []
    if entry.hf_id:
        try:
            folder = hf_snapshot(entry.hf_id)
            model, facts = load_hf_dir(folder, source=entry.hf_id)
            _attach_tokenizers(model, folder)
            return model, facts | {"source": entry.hf_id, "zoo": entry.name}
        except WeightsUnavailable as exc:
            tried.append(str(exc))
    if entry.lavis_file:
        try:
            return _load_lavis_entry(entry, lavis_file(entry.lavis_file), vision_file, llm)
        except WeightsUnavailable as exc:
            tried.append(str(exc))
    raise WeightsUnavailable(f"{entry.name}: weights are not available here. Tried:\n- " + "\n- ".join(tried))


def _load_lavis_entry(entry: zoo.ZooEntry, path: Path, vision_file, llm) -> tuple[Model, dict[str, Any]]:
    cfg = entry.config()
    model, facts = load_lavis(path, cfg, vision_file=vision_file, llm_source=llm)
    if cfg.llm is not None:
        source = llm or cfg.llm.hub_id
        folder = Path(source) if Path(source).is_dir() else hf_snapshot(str(source))
        model.tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    if cfg.qformer.with_text:
        model_qtok = _bert_tokenizer()
        _set_qformer_tokenizer(model, model_qtok)
    return model, facts | {"source": str(path), "zoo": entry.name}


def _bert_tokenizer():
    """bert-base-uncased plus a [DEC] bos token (30523 ids), as BLIP-2's Q-Former uses."""
    return load_bert_tokenizer(hf_snapshot(BERT_HUB_ID))


def _set_qformer_tokenizer(model: Model, tokenizer) -> None:
    if isinstance(model, Blip2Qformer):
        model.tokenizer = tokenizer
        model.bos_token_id = tokenizer.bos_token_id
    else:
        model.qformer_tokenizer = tokenizer


def _attach_tokenizers(model: Model, folder: Path) -> None:
    """A transformers folder carries one tokenizer: the LLM's, or the Q-Former's for retrieval models."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    if isinstance(model, Blip2Qformer):
        if tokenizer.bos_token_id is None and "[DEC]" in tokenizer.get_vocab():
            tokenizer.bos_token = "[DEC]"
        _set_qformer_tokenizer(model, tokenizer)
    else:
        model.tokenizer = tokenizer


def save_model(model: Model, directory: str | Path) -> Path:
    """Save in our own format (safetensors + JSON config + tokenizers)."""
    from .checkpoints.native import save_native

    return save_native(model, directory)


def freeze_frozen_parts(model: nn.Module) -> None:
    """BLIP-2 trains the Q-Former, its queries, `ln_vision` and the projection; ViT and LLM stay frozen."""
    for p in model.vision.trunk.parameters():
        p.requires_grad_(False)
    if hasattr(model, "llm"):
        for p in model.llm.parameters():
            p.requires_grad_(False)


# --- inference helpers ---------------------------------------------------------------------------


def image_transform(model: Model, image_size: int | None = None) -> ImageTransform:
    """The evaluation preprocessing that matches the model's own configuration."""
    cfg = model.cfg
    return ImageTransform(image_size or cfg.vision.image_size, cfg.image_mean, cfg.image_std)


def _pixels(model: Model, images: Sequence[Image.Image]) -> torch.Tensor:
    device = next(model.parameters()).device
    return image_transform(model).batch(images).to(device)


def caption(model: Blip2LM, images: Sequence[Image.Image], prompt: str = "", **generate: Any) -> list[str]:
    """One caption per image; COCO-fine-tuned models were trained with the prompt "a photo of"."""
    return model.generate(_pixels(model, images), [prompt] * len(images), **generate)


def answer(model: Blip2LM, images: Sequence[Image.Image], questions: Sequence[str],
           prompt: str, **generate: Any) -> list[str]:
    """Zero-shot VQA: fills `prompt` (one "{}" for the question) with each question.

    The paper's per-LLM prompts are the tasks layer's: ``tasks.get("vqav2").settings(family).prompt``."""
    generate = {"max_new_tokens": 10, "min_new_tokens": 1, "length_penalty": -1.0} | generate
    return model.generate(_pixels(model, images), [prompt.format(q) for q in questions], **generate)


def _text_batch(model: Blip2Qformer, texts: Sequence[str], max_length: int):
    """Token ids and mask, padded and cut to `max_length` tokens as LAVIS's retrieval evaluation does."""
    enc = model.tokenizer(list(texts), padding="max_length", truncation=True, max_length=max_length,
                          return_tensors="pt")
    device = next(model.parameters()).device
    return enc.input_ids.to(device), enc.attention_mask.to(device)


@torch.no_grad()
def itc_scores(model: Blip2Qformer, images: Sequence[Image.Image], texts: Sequence[str], *,
               max_text_tokens: int) -> torch.Tensor:
    """[N_img, N_txt] ITC cosine similarities (maximum over the 32 queries, no temperature).

    Texts are cut to `max_text_tokens` (the retrieval task's setting: ``tasks.get(...).settings().max_text_tokens``)."""
    _, queries, _ = model.encode_image(_pixels(model, images))
    ids, mask = _text_batch(model, texts, max_text_tokens)
    return itc_similarity(model.image_itc_features(queries), model.text_itc_features(ids, mask))


@torch.no_grad()
def itm_scores(model: Blip2Qformer, images: Sequence[Image.Image], texts: Sequence[str], *,
               max_text_tokens: int) -> torch.Tensor:
    """[N_img, N_txt] ITM match probabilities; texts are cut to `max_text_tokens` as in :func:`itc_scores`.

    Each image's cross-attention keys are computed once, and so is the image-free start of each text's
    pass (`fast.itm_text_states`); the rest runs per pair (`fast.itm_logits_from_states`).
    """
    image = model.vision(_pixels(model, images))
    ids, mask = _text_batch(model, texts, max_text_tokens)
    queries, text = fast.itm_text_states(model, ids, mask)
    rows = []
    for i in range(image.shape[0]):
        kv = model.qformer.image_kv(image[i : i + 1])
        rows.append(fast.itm_logits_from_states(model, queries, text, mask, image_kv=kv).softmax(-1)[:, 1])
    return torch.stack(rows)


@dataclass(frozen=True)
class ParamCount:
    total: int
    trainable: int


def count_parameters(model: nn.Module) -> ParamCount:
    """Total and trainable parameters, tied tensors counted once."""
    params = list(model.parameters())  # parameters() yields each tied tensor once
    return ParamCount(sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad))
