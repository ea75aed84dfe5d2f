"""``lrp``: the command-line entry point and its error policy.

Each sub-command lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``func`` default runs the command and returns an exit status. Errors caused by the user
(:class:`~lrpcore.errors.LRPError`, bad usage) print one line on stderr and exit with 2;
anything else is an internal error: exit 1 with a hint to report it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading

from .. import __version__
from ..allocator import keep_freed_memory
from ..errors import LRPError

COMMANDS = ["explain", "render", "figure", "demo", "bench", "info", "convert", "rules", "train",
            "evaluate", "data", "sweep", "sanity"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it cleans up exactly as after Ctrl-C."""


@contextlib.contextmanager
def terminate_like_interrupt():
    """Turn SIGTERM into :class:`Terminated` while a command runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class UsageError(LRPError):
    """Bad command-line usage (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # exit status 2 as argparse, but one line (its usage block would add several)
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lrp", description="Layer-wise Relevance Propagation from the command "
                     "line: explain, render, benchmark, convert and train models.",
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="Run 'lrp COMMAND --help' for a command's options and an example.")
    parser.add_argument("--version", action="version", version=f"lrp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".cmd_{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.endswith(f"cmd_{name}"):
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    keep_freed_memory()
    try:
        with terminate_like_interrupt():
            return int(args.func(args) or 0)
    except Terminated:
        print("lrp: terminated; no partial output files were left", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("lrp: interrupted; no partial output files were left", file=sys.stderr)
        return 128 + signal.SIGINT
    except LRPError as exc:
        print(f"lrp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except Exception as exc:  # internal error: say so, ask for a report
        print(f"lrp {args.command}: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in LRP Explorer; please report it with the command you ran.",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
