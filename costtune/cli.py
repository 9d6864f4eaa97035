"""The ``costtune`` command: a thin argparse dispatcher.

Each subcommand lives in ``costtune/commands/<name>.py`` and exposes
``register(subparsers)``; its handler parses nothing more, calls one library
function and prints. Errors derived from :class:`CostTuneError` become one line
on stderr and the error's exit code - never a traceback for a user's mistake.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
import traceback

from costtune import __version__
from costtune.errors import CostTuneError, EnvironmentFailure, MissingExtra
from costtune.logging import configure

#: subcommand modules in help order
COMMANDS = [
    "toolchain", "passes", "benchmarks", "compile", "measure", "collect", "records",
    "dataset", "tokenizer", "pretrain", "train", "eval", "serve", "score", "search",
    "retrain", "cache", "demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="costtune", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"costtune {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"costtune.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"costtune.commands.{name}":
                continue
            # a third-party package this command needs is not installed: the other
            # commands still work, this one says what is missing
            missing = MissingExtra(f"'costtune {name}'", e.name)
            p = sub.add_parser(name, help=f"(unavailable: needs the {missing.extra} extra)")
            p.set_defaults(func=_unavailable(missing))
            continue
        module.register(sub)
    return parser


def _unavailable(missing: MissingExtra):
    def run(args):
        raise missing

    return run


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CostTuneError as e:
        print(f"costtune: error: {e}", file=sys.stderr)
        return e.exit_code
    except ModuleNotFoundError as e:
        if not MissingExtra.covers(e.name):
            raise
        # an optional dependency the command reached only now (the default model needs torch)
        missing = MissingExtra(f"'costtune {args.command}'", e.name)
        print(f"costtune: error: {missing}", file=sys.stderr)
        return MissingExtra.exit_code
    except KeyboardInterrupt:
        print("costtune: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:
        # the machine, not the input (exit 3): a full or read-only disk, an unwritable directory, a path
        # under a file; any other (a path that cannot be made, say) is still one line
        if args.verbose and e.errno not in _ENVIRONMENT_ERRNOS:  # unexpected: -v shows where it came from
            traceback.print_exc()
        where = ": " + " -> ".join(str(f) for f in (e.filename, e.filename2) if f) if e.filename else ""
        print(f"costtune: error: {e.strerror or e}{where}", file=sys.stderr)
        return EnvironmentFailure.exit_code if e.errno in _ENVIRONMENT_ERRNOS else 1


_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.ENOTDIR,
                       errno.EEXIST, errno.EIO, errno.ENAMETOOLONG, errno.EISDIR}


if __name__ == "__main__":
    sys.exit(main())
