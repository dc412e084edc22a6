"""Argument parsing and error handling shared by every ``python -m bench`` subcommand.

Each subcommand is a module in :mod:`bench.commands` with ``NAME``, ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; adding one means adding its module to ``bench.commands.COMMANDS``. User errors
(every layer's, :data:`bench.errors.USER_ERRORS`) become one line on stderr and exit code 2, with no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench.commands import COMMANDS
from bench.errors import USER_ERRORS
from bench.typed_flags import record_given

USER_ERROR_EXIT = 2


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every flag's help ends with its default, unless its text already says it (or it has none to say)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default is None or action.required:
            return text
        return super()._get_help_string(action)


def version_text() -> str:
    """`--version`: ours, and the torch and transformers a result depends on (read without importing them)."""
    from importlib.metadata import PackageNotFoundError, version

    import blip2

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return f"blip2-bench {blip2.__version__} (torch {installed('torch')}, transformers {installed('transformers')})"


def program_name() -> str:
    """`blip2-bench` when run as the installed command, else `python -m bench` (the same program)."""
    from pathlib import Path

    return "blip2-bench" if Path(sys.argv[0]).name == "blip2-bench" else "python -m bench"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program_name(), description="Reproduce and evaluate BLIP-2 on its paper benchmarks.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_text(),
                        help="print the versions of blip2-bench, torch and transformers, and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        sub = subparsers.add_parser(command.NAME, help=command.HELP, description=command.HELP,
                                    formatter_class=HelpFormatter)
        command.add_arguments(sub)
        record_given(sub)
        sub.set_defaults(handler=command.run)
    return parser


def one_line(message: str) -> str:
    return " ".join(message.split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return USER_ERROR_EXIT
    try:
        return int(args.handler(args))
    except USER_ERRORS as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
