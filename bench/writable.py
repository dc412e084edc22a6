"""Can a results file or folder be written? Asked before any work, so a disk problem is found first.

A run or a report that computes for minutes and then cannot write its result wastes the work, and a CI
gate that meets a write error late could report it as something else. Each check creates nothing: it
probes the nearest existing folder with a temporary file that is deleted at once. Every failure is a
:class:`bench.errors.BenchError` naming the flag and the path, so the CLI exits 2.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.errors import BenchError

MIN_FREE_BYTES = 64 * 2**20
"""Less free space than this where results go is refused: runs write predictions, scores and metrics."""


def check_output_folder(folder: Path, flag: str) -> None:
    """`folder` exists as a writable folder with room, or can be created as one."""
    probe = Path(folder)
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise BenchError(f"{flag} {folder}: {probe} is a file, not a folder; choose another {flag}")
    _check_writable(probe, folder, flag)


def check_output_file(path: Path, flag: str, example: str | None = None) -> None:
    """`path` can be (re)written as a file: it is not a folder and its folder is writable. `example` is a file
    name of the kind the flag writes, suggested when `path` is a folder."""
    path = Path(path)
    if path.is_dir():
        hint = f", e.g. {path / example}" if example else ""
        raise BenchError(f"{flag} {path} is a folder; give a file name{hint}")
    check_output_folder(path.parent, flag)


def _check_writable(probe: Path, asked: Path, flag: str) -> None:
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BenchError(f"{flag} {asked}: {probe} is read-only for this user; choose a writable {flag}")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise BenchError(f"{flag} {asked}: cannot write in {probe} ({exc.strerror or exc}); "
                         f"choose a writable {flag}") from None
    free = shutil.disk_usage(probe).free
    if free < MIN_FREE_BYTES:
        raise BenchError(f"{flag} {asked}: only {free // 2**20} MiB free on its disk (at least "
                         f"{MIN_FREE_BYTES // 2**20} MiB are needed); free some space or choose another {flag}")


@contextmanager
def read_errors(path: Path, flag: str) -> Iterator[None]:
    """Turn an OSError while reading `path` (permissions, a folder where a file was expected) into a named
    user error."""
    try:
        yield
    except OSError as exc:
        raise BenchError(f"{flag} {path}: cannot read it ({exc.strerror or exc})") from None


@contextmanager
def write_errors(path: Path, flag: str) -> Iterator[None]:
    """Turn an OSError while writing `path` (disk full, permissions changed mid-run) into a named user error."""
    try:
        yield
    except OSError as exc:
        raise BenchError(f"{flag} {path}: cannot write it ({exc.strerror or exc})") from None
