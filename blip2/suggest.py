"""A "did you mean" for misspelt names (zoo models, tasks), so a typo is fixed without reading a list.

It lives in the lowest layer that suggests (the model loader names zoo models); ``bench`` imports it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' Did you mean X?' for the closest of `choices`, or '' when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
