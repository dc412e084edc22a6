"""The tasks layer's user errors: problems with data, predictions or task choices that a user can fix.

Every such problem raises a subclass of :class:`TaskInputError`, so a caller (the CLI) can print one line
and exit 2 instead of a traceback, while real bugs still surface as tracebacks. Each layer owns its errors
(``blip2.errors``, ``toyworld.errors``, ``bench.errors``); ``bench`` turns all of them into exit 2.
"""

from __future__ import annotations


class TaskInputError(ValueError):
    """A problem the user can fix; the message says what and how."""


class DataError(TaskInputError):
    """A data file under the data root is missing or malformed."""


class PredictionError(TaskInputError):
    """A predictions file (or in-memory predictions) does not match the split it is scored on."""


class TaskError(TaskInputError):
    """An unknown task, split, variant or setting, or an operation a split does not support."""
