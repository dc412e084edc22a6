"""Experiment trackers through accelerate's tracker API: TensorBoard, Weights & Biases, MLflow.

Users of accelerate expect their losses and learning rates in the tracker they already use. Each one is an
optional package (the ``trackers`` extra); one asked for but not installed is an error naming the package,
before any work. Everything is written under the run's own folder by default, so nothing needs a server:

- tensorboard: event files in ``<logging_dir>/<project>/``; the default when tensorboard is installed;
- wandb: ``wandb.init(dir=<logging_dir>)``; offline with ``WANDB_MODE=offline`` (the user's choice: online
  needs an account);
- mlflow: unless ``MLFLOW_TRACKING_URI`` says otherwise, a local file store ``<logging_dir>/mlruns`` (MLflow 3
  calls that backend "maintenance mode" and wants ``MLFLOW_ALLOW_FILE_STORE=true``, which is set for it).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from ..errors import ModelInputError

TRACKERS: tuple[str, ...] = ("tensorboard", "wandb", "mlflow", "none")
# tracker -> (module it imports, the package that provides it)
PACKAGES: dict[str, tuple[str, str]] = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "wandb": ("wandb", "wandb"),
    "mlflow": ("mlflow", "mlflow-skinny"),
}
DEFAULT_HELP = "tensorboard when it is installed, else none"


class TrackerUnavailable(ModelInputError, ImportError):
    """A tracker asked for with --log-with whose package is not installed (or a name that is no tracker)."""


def installed(tracker: str) -> bool:
    return importlib.util.find_spec(PACKAGES[tracker][0]) is not None


def choose_tracker(log_with: str | None) -> str | None:
    """The accelerate tracker name for `--log-with` (None: the default), or None for no tracker."""
    if log_with is None:
        return "tensorboard" if installed("tensorboard") else None
    if log_with not in TRACKERS:
        raise TrackerUnavailable(f"--log-with {log_with!r} is no tracker; choose one of {', '.join(TRACKERS)}")
    if log_with == "none":
        return None
    if not installed(log_with):
        module, package = PACKAGES[log_with]
        raise TrackerUnavailable(f"--log-with {log_with} needs the {package} package ({module} is not installed): "
                                 f"pip install {package} (or this package's 'trackers' extra), or choose another "
                                 "--log-with")
    return log_with


def init_kwargs(tracker: str, logging_dir: Path) -> dict[str, dict[str, Any]]:
    """Per-tracker arguments that keep a tracker's files under `logging_dir` (accelerate's `init_kwargs`)."""
    logging_dir.mkdir(parents=True, exist_ok=True)
    if tracker == "wandb":
        return {"wandb": {"dir": str(logging_dir)}}
    if tracker == "mlflow":
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            import mlflow

            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            mlflow.set_tracking_uri((logging_dir / "mlruns").resolve().as_uri())
        return {"mlflow": {"logging_dir": str(logging_dir)}}
    return {}


def scalar_config(values: dict[str, Any]) -> dict[str, Any]:
    """The scalar fields of a config (TensorBoard's hparams take only numbers, strings and booleans)."""
    return {k: v for k, v in values.items() if isinstance(v, bool | int | float | str)}


def open_tracker(tracker: str, project: str, logging_dir: Path, config: dict[str, Any] | None = None):
    """A started accelerate tracker outside a training loop (`bench run` logs final metrics with it)."""
    from accelerate.tracking import LOGGER_TYPE_TO_CLASS

    cls = LOGGER_TYPE_TO_CLASS[tracker]
    kwargs = init_kwargs(tracker, logging_dir).get(tracker, {})
    instance = cls(project, str(logging_dir), **kwargs) if cls.requires_logging_directory else cls(project, **kwargs)
    if hasattr(instance, "start"):
        instance.start()
    if config:
        instance.store_init_configuration(scalar_config(config))
    return instance
