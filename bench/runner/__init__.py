"""The evaluation runner: one loop per task kind (generate, retrieve), shared by every task.

Tasks and models meet only here, through the task registry (`tasks.get`) and the model API (`blip2`),
so adding a task or a model is a local change on one side.
"""

from .run import RunRequest, run_all

__all__ = ["RunRequest", "run_all"]
