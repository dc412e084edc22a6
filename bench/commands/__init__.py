"""The ``python -m bench`` subcommands, in the order ``--help`` lists them.

A subcommand module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

from types import ModuleType

from bench.commands import score

COMMANDS: tuple[ModuleType, ...] = (score,)
