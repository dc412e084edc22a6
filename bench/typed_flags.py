"""Which flags the user typed on the command line, whatever their value.

A flag that does not apply (say `--seed` with the default job) must be refused when it is given, even at its
default value; comparing values with the defaults would miss `--seed 0`. `bench.cli` makes every parser record
the flags it sees, and the commands read them back with :func:`given_flags`.
"""

from __future__ import annotations

import argparse
import functools

GIVEN = "given_flags"  # the Namespace attribute listing the dests of the flags the user typed


@functools.cache
def _recording(base: type[argparse.Action]) -> type[argparse.Action]:
    def __call__(self, parser, namespace, values, option_string=None):  # noqa: N807 (argparse's own name)
        setattr(namespace, GIVEN, (*getattr(namespace, GIVEN, ()), self.dest))
        base.__call__(self, parser, namespace, values, option_string)

    return type(base.__name__, (base,), {"__call__": __call__})


def record_given(parser: argparse.ArgumentParser) -> None:
    """Make `parser` list in `args.given_flags` every flag the user typed, even at its default value: a flag
    that does not apply is refused when given, whatever its value (comparing with defaults would miss
    `--seed 0`)."""
    parser.set_defaults(**{GIVEN: ()})
    for action in parser._actions:
        if not isinstance(action, argparse._HelpAction):
            action.__class__ = _recording(type(action))


def given_flags(args: argparse.Namespace) -> list[str]:
    """The dests of the flags the user typed, in order, each once (recorded by :func:`record_given`)."""
    return list(dict.fromkeys(getattr(args, GIVEN, ())))
