"""``lrp``: the command-line entry point and its error policy.

Each sub-command lives in its own module exposing ``register(subparsers)``, which adds a parser
whose ``func`` default runs the command and returns an exit status. Errors caused by the user
(:class:`~lrpcore.errors.LRPError`, bad usage) print one line on stderr and exit with 2;
anything else is an internal error: exit 1 with a hint to report it.
"""

from __future__ import annotations

import argparse
import importlib
import re
import signal
import sys
import warnings

from .. import __version__, fileio
from ..allocator import keep_freed_memory
from ..errors import LRPError, RawValuesWarning
from ..text import error_line, escaping_output

COMMANDS = ["explain", "render", "figure", "demo", "bench", "info", "convert", "rules", "train",
            "evaluate", "data", "sweep", "sanity", "concepts", "spray"]


class UsageError(LRPError):
    """Bad command-line usage (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # exit status 2 as argparse, but one line (its usage block would add several)
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# options whose KEY=SPEC value may start with a minus sign: a layer counted from the end
_KEYED_OPTIONS = ("--layer-rule",)
_NEGATIVE_KEY = re.compile(r"-\d+=")


def join_negative_keys(argv) -> list:
    """``--layer-rule -1=flat`` as ``--layer-rule=-1=flat``: argparse takes a value that
    starts with '-' (and is no plain number) for an option, and refused the option for want
    of its value ('expected one argument')."""
    out, args = [], list(argv)
    for k, arg in enumerate(args):
        if arg == "--":
            return out + args[k:]
        if out and out[-1] in _KEYED_OPTIONS and _NEGATIVE_KEY.match(arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def build_parser() -> argparse.ArgumentParser:
    from .common import HelpFormatter  # noqa: PLC0415 (as the commands' modules, below)

    parser = _Parser(prog="lrp", description="Layer-wise Relevance Propagation from the command "
                     "line: explain samples; evaluate explanations (pixel-flipping, parameter "
                     "sweeps, sanity check) and analyse them (concepts, SpRAy); render "
                     "heatmaps; inspect, convert, train and benchmark models.",
                     formatter_class=HelpFormatter,
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


class _Flag(list):
    closing = False
    swallowed = False  # a signal struck inside a ctypes callback, which kept it from raising


_running: _Flag | None = None  # the signals of the command running now


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt when a Ctrl-C (or SIGTERM) of the running command was swallowed
    by a ctypes callback (llvmlite's, during numba's first compilation): the command ran on
    and ended with exit 0, as if Ctrl-C had not been pressed. Called between batches (the
    progress bar's step), so the interruption takes effect there, with the usual clean-up."""
    flag = _running
    if flag is not None and flag.swallowed and not flag.closing:
        raise KeyboardInterrupt


def _stop_before_publishing() -> None:
    """``fileio.commit_check`` while a command runs: a Ctrl-C or SIGTERM that arrived keeps its
    outputs from taking their names, even where its exception was caught or swallowed on the
    way (a SIGTERM was once lost that way and the run published a complete R.npy, exit 0)."""
    flag = _running
    if flag and not flag.closing:
        raise KeyboardInterrupt


def _terminate_like_ctrl_c():
    """SIGTERM (a job scheduler's stop, ``kill``) runs the same clean-up as Ctrl-C: every
    writer removes what it wrote. Returns a flag that holds the signals that arrived (Ctrl-C
    too, so that one swallowed where it struck is still known) and the handlers replaced."""
    flag = _Flag()

    def on_signal(signum, frame):
        flag.append(signum)
        if not flag.closing:  # once the command has returned, its outputs are complete
            raise KeyboardInterrupt

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            if signum == signal.SIGINT and signal.getsignal(signum) is not \
                    signal.default_int_handler:
                continue  # Ctrl-C ignored (a background job) or handled by the caller
            previous[signum] = signal.signal(signum, on_signal)
        except ValueError:  # not the main thread (e.g. called from a test's worker)
            break
    return flag, previous


def _quiet_interrupted_callbacks(signals):
    """While a command runs, a Ctrl-C (or SIGTERM) that struck inside a ctypes callback — llvmlite
    calls numba's object cache back that way during the first compilation of a kernel — is
    not printed as "Exception ignored on calling ctypes callback function" with a traceback:
    the callback swallows it, the flag keeps it and the command ends as interrupted (at
    its next batch: :func:`stop_if_interrupted`, or when numba fails after it). Other
    unraisable exceptions go to the hook that was there. Returns the previous hook."""
    previous = sys.unraisablehook

    def hook(unraisable):
        if signals and issubclass(unraisable.exc_type, KeyboardInterrupt):
            signals.swallowed = True  # stop_if_interrupted acts on it at the next batch
            return
        previous(unraisable)

    sys.unraisablehook = hook
    return previous


def _stopped(signals) -> int:
    fileio.remove_own_temporaries()
    terminated = signal.SIGTERM in signals
    how = "terminated" if terminated else "interrupted"
    print(f"lrp: {how}; no partial output files were left", file=sys.stderr)
    return 128 + (signal.SIGTERM if terminated else signal.SIGINT)


def _command_parser(parser, args) -> argparse.ArgumentParser:
    """The parser of the (sub-)command that ``args`` ran, 'lrp data info' included: an option
    that 'lrp evaluate' lacks (--out) was refused as "lrp: error: unrecognized arguments …
    (see 'lrp --help')", whose help does not list any command's options."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None))
            if chosen is not None:
                return _command_parser(chosen, args)
    return parser


def refuse_empty_values(parser, args) -> None:
    """An argument given as '' is refused by name: ``--png ""`` and ``--plot ""`` were taken
    as not given (no picture, no word), ``lrp sweep --csv ""`` computed the whole sweep and
    then failed ": write failed", and files named '' were reported as ": no such file"."""
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        values = value if isinstance(value, list) else [value]
        if "" in values and action.default != "":
            name = "/".join(action.option_strings) or action.metavar or action.dest
            parser.error(f"argument {name}: an empty value; give a name or value")


def main(argv=None) -> int:
    with escaping_output():  # a file name or "×" the terminal cannot show is no crash
        return _main(argv)


def _main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(join_negative_keys(sys.argv[1:] if argv is None
                                                             else argv))
    if extra:  # said by the command that was given them, not by 'lrp'
        _command_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    refuse_empty_values(_command_parser(parser, args), args)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    keep_freed_memory()
    global _running
    signals, previous = _terminate_like_ctrl_c()
    unraisable = _quiet_interrupted_callbacks(signals)
    _running = signals
    fileio.commit_check = _stop_before_publishing
    fileio.forget_written_folders()
    name = _command_parser(parser, args).prog  # 'lrp data info', as its usage errors say
    try:
        with warnings.catch_warnings():  # the commands word it themselves (warn_if_preprocessed)
            warnings.simplefilter("ignore", RawValuesWarning)
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return _stopped(signals)
    except LRPError as exc:
        message = error_line(exc)  # file names may hold escapes, file content megabytes
        print(f"{name}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except MemoryError as exc:  # a valid but huge input on this machine: not a bug
        print(f"{name}: error: out of memory ({str(exc)[:200] or 'no details'}); "
              "the input or the requested output is too large for this machine",
              file=sys.stderr)
        return 2
    except Exception as exc:  # internal error: say so, ask for a report
        if signals:  # Ctrl-C during numba's compilation: swallowed in its callback, which
            return _stopped(signals)  # then failed with "no compiled object yet"
        print(f"{name}: internal error: {type(exc).__name__}: {error_line(exc)}\n"
              "This is a bug in LRP Explorer; please report it with the command you ran.",
              file=sys.stderr)
        return 1
    finally:
        signals.closing = True  # a signal from here on must not escape as an exception
        _running = None
        fileio.commit_check = None
        sys.unraisablehook = unraisable
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
