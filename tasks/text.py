"""Text preprocessing applied to questions and captions before they reach a model.

These follow the BLIP/LAVIS text processors that produced the paper's numbers: questions are
lowercased with ``.!"()*#:;~`` removed (the "?" is kept), captions are lowercased with those
characters replaced by spaces and cut to 50 words. Scoring never uses them: references go to the
scorers raw, as the official scorers expect.
"""

from __future__ import annotations

import re

_STRIPPED_CHARS = re.compile(r'[.!"()*#:;~]')
_MULTI_SPACE = re.compile(r"\s{2,}")

DEFAULT_MAX_WORDS = 50


def preprocess_question(question: str, max_words: int = DEFAULT_MAX_WORDS) -> str:
    """Lowercase, delete ``.!"()*#:;~``, strip trailing spaces, keep at most ``max_words`` words."""
    text = _STRIPPED_CHARS.sub("", question.lower()).rstrip(" ")
    words = text.split(" ")
    if len(words) > max_words:
        text = " ".join(words[:max_words])
    return text


def preprocess_caption(caption: str, max_words: int = DEFAULT_MAX_WORDS) -> str:
    """Lowercase, replace ``.!"()*#:;~`` by spaces, squeeze whitespace, keep at most ``max_words`` words."""
    text = _STRIPPED_CHARS.sub(" ", caption.lower())
    text = _MULTI_SPACE.sub(" ", text).rstrip("\n").strip(" ")
    words = text.split(" ")
    if len(words) > max_words:
        text = " ".join(words[:max_words])
    return text
