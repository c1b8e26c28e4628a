"""The ``simlib`` command (also ``python -m simlib``).

Each command lives in its own module of this package and registers itself in :data:`COMMANDS`
with :func:`command`; adding a command never edits this file. Exit codes: 0 success, 2 invalid
input (the message names the file, the key path and what is allowed), 1 anything else (a full
disk or another file-system failure while writing is reported with its path, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from ..errors import SimlibError, UserInputError

__all__ = ["COMMANDS", "command", "main"]

Handler = Callable[[argparse.Namespace], int]
#: name -> (help, function adding the arguments, handler)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {}


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None]):
    """Decorator registering ``handler(args) -> exit code`` as ``simlib NAME``."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = (help, arguments, handler)
        return handler

    return register


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit code 2, like every input error
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    parser = _Parser(
        prog="simlib",
        description="Simulate subscription businesses: churn, CS coverage, offers, LTV.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        help_text, arguments, _ = COMMANDS[name]
        p = sub.add_parser(name, help=help_text, description=help_text)
        arguments(p)
    return parser


_TEMPORARY = re.compile(
    r"^\.(?P<name>.+?)(?:\.tmp-.*|\.old-\d+|\.running(?=\.ipynb$))(?P<end>(?:\.ipynb)?)$"
)


def _user_path(filename: object) -> str:
    """The path a user gave for an error's file name: a temporary name of simlib's writers
    (``.NAME.tmp-...``, ``.NAME.old-PID``, ``.NAME.running.ipynb``) becomes ``NAME`` beside it."""
    path = Path(os.fsdecode(filename)) if isinstance(filename, str | bytes) else Path(str(filename))
    match = _TEMPORARY.match(path.name)
    return str(path.with_name(match["name"] + match["end"])) if match else str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = COMMANDS[args.command][2]
    try:
        return int(handler(args) or 0)
    except UserInputError as exc:
        print(f"simlib {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except SimlibError as exc:
        print(f"simlib {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the file system refused (disk full, permissions): no traceback
        where = f"{_user_path(exc.filename)}: " if exc.filename else ""
        print(f"simlib {args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"simlib {args.command}: interrupted", file=sys.stderr)
        return 130
