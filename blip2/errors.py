"""The model layer's user errors: checkpoints, weights and recipes that a user can fix.

Each layer owns its errors (``tasks.errors``, ``toyworld.errors``, ``bench.errors``); ``bench`` turns every
one of them into one line and exit 2. Errors that also belong to a standard family (a missing key, an
unavailable download) keep that base too, so ``except KeyError`` callers still work.
"""

from __future__ import annotations


class ModelInputError(Exception):
    """A problem with a checkpoint, weights, config or recipe that the user can fix; the message says how."""
