"""Scorers that reproduce the official VQA, GQA, COCO-caption and LAVIS retrieval numbers.

Submodules: ``vqa`` (+ ``vqa_normalize``), ``gqa``, ``caption`` (pycocoevalcap, needs Java) and
``retrieval``. Names are resolved lazily so that importing a light scorer does not pull in torch
or pycocoevalcap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "vqa_accuracy": "vqa",
    "vqa_score_one": "vqa",
    "lemmatize_answers": "vqa",
    "gqa_accuracy": "gqa",
    "caption_metrics": "caption",
    "score_tokenized": "caption",
    "score_tokenized_detailed": "caption",
    "bleu_image_stats": "caption",
    "CaptionScores": "caption",
    "tokenize_captions": "caption",
    "spice_unavailable_reason": "caption",
    "retrieval_metrics": "retrieval",
    "rerank": "retrieval",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
