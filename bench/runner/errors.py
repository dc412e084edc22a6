"""The runner's user error, in its own module so the checks and the run loop share it without a cycle."""

from __future__ import annotations

from bench.errors import BenchError


class RunError(BenchError):
    """Something to fix before a run can start (data, weights, arguments); the message says what."""
