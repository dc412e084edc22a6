"""The command line's user errors, and the one tuple of every layer's user errors that become exit 2.

Each layer owns its errors: ``tasks.errors.TaskInputError`` (data, predictions, task choices),
``blip2.errors.ModelInputError`` (checkpoints, weights, recipes), ``toyworld.errors.ToyError`` (the toy
world) and :class:`BenchError` here (flags, run folders, baselines). ``bench.cli`` catches
:data:`USER_ERRORS` and prints one line with exit 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from blip2.errors import ModelInputError
from tasks.errors import TaskInputError
from toyworld.errors import ToyError


class BenchError(ValueError):
    """A problem with a flag, a run folder, a baseline or a results file that the user can fix."""


USER_ERRORS: tuple[type[Exception], ...] = (BenchError, TaskInputError, ModelInputError, ToyError)
