"""Exception types for user-facing problems.

Every problem a user can fix (a missing file, a malformed field, a bad predictions file, an unknown
task) raises a subclass of :class:`BenchError`, so the CLI can print one line and exit 2 instead of
a traceback, while real bugs still surface as tracebacks.
"""

from __future__ import annotations


class BenchError(ValueError):
    """A problem the user can fix; the message says what and how."""


class DataError(BenchError):
    """A data file under the data root is missing or malformed."""


class PredictionError(BenchError):
    """A predictions file (or in-memory predictions) does not match the split it is scored on."""


class TaskError(BenchError):
    """An unknown task, split, variant or setting, or an operation a split does not support."""
