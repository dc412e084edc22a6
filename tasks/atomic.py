"""Atomic file writes.

Results and submission files are read by other tools (leaderboard, CI gate, EvalAI upload); a crash
half-way through a write must never leave a truncated file that looks valid. Writing to a temporary
file in the same directory and ``os.replace``-ing it gives all-or-nothing semantics on POSIX and
Windows. ``mkstemp`` creates its file readable by its owner only; the result gets the mode a plain
``open`` would give it (0666 less the umask), or keeps the mode of the file it replaces, so results
stay readable by the group and by tools run as another user, as every other file the user writes.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(fileobj)`` on a temp file next to ``path``, then move it into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o7777 if target.is_file() else new_file_mode()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):  # POSIX; Windows has no group or other permission bits to set
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return target


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` gives a new file: 0666 less the process umask."""
    mask = os.umask(0o022)  # reading the umask means setting it; it is put back at once
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    data = text.encode(encoding)
    return atomic_write(path, lambda handle: handle.write(data))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> Path:
    """Serialise ``obj`` as JSON (strict: NaN/Infinity are refused) and write it atomically."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False)
    return atomic_write_text(path, text + "\n")
