"""The model layer's user errors: checkpoints, weights and recipes that a user can fix.

Each layer owns its errors (``tasks.errors``, ``toyworld.errors``, ``bench.errors``); ``bench`` turns every
one of them into one line and exit 2. Errors that also belong to a standard family (a missing key, an
unavailable download) keep that base too, so ``except KeyError`` callers still work.
"""

from __future__ import annotations


class ModelInputError(Exception):
    """A problem with a checkpoint, weights, config or recipe that the user can fix; the message says how."""


class ModelSourceError(ModelInputError, ValueError):
    """A --model that exists but is not a model we can load as given: a folder of neither format, a LAVIS
    file without its architecture. Also a ValueError, as these were before."""


class UnknownModelError(ModelInputError, FileNotFoundError):
    """A --model that is no zoo name, local folder, file or hub id. Also a FileNotFoundError, as before."""

    def __str__(self) -> str:  # OSError's str would be fine, but keep the message exactly as written
        return str(self.args[0])
