"""The ``python -m bench`` subcommands, in the order ``--help`` lists them.

A subcommand module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

from types import ModuleType

from bench.commands import (
    card,
    compare,
    cost,
    leaderboard,
    listing,
    paper,
    regress,
    report,
    run,
    score,
    toy_ceiling,
    toy_chance,
    toy_data,
    toy_itm_negatives,
    toy_position_probe,
    train,
)

COMMANDS: tuple[ModuleType, ...] = (run, listing, score, paper, leaderboard, regress, compare, report, card, train,
                                   cost, toy_data, toy_chance, toy_ceiling, toy_itm_negatives,
                                   toy_position_probe)
