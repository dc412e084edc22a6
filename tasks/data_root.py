"""Where the benchmark data lives: ``--data-root``, then ``$BLIP2_DATA``, then ``./data``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DATA_ROOT_ENV = "BLIP2_DATA"
DEFAULT_DATA_ROOT = "data"


def resolve_data_root(arg: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None) -> Path:
    """Return the data root chosen by precedence: explicit argument, ``$BLIP2_DATA``, ``./data``.

    The path is made absolute (relative to the current directory) so that error messages and
    recorded results name the exact folder; its existence is checked later, per file, by the task
    loaders, which can then say which file is missing.
    """
    return describe_data_root(arg, env)[0]


def describe_data_root(
    arg: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None
) -> tuple[Path, str]:
    """Like :func:`resolve_data_root`, also returning where the choice came from (for messages)."""
    environ = os.environ if env is None else env
    if arg is not None and str(arg) != "":
        chosen, source = Path(arg), "--data-root"
    elif environ.get(DATA_ROOT_ENV):
        chosen, source = Path(environ[DATA_ROOT_ENV]), f"${DATA_ROOT_ENV}"
    else:
        chosen, source = Path(DEFAULT_DATA_ROOT), "default ./data"
    return Path(os.path.abspath(chosen.expanduser())), source
