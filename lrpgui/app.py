"""Command line of ``lrp-explorer`` / ``python -m lrpgui``."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings

STARTED = time.perf_counter()

from lrpcore.allocator import keep_freed_memory  # noqa: E402 - after STARTED: startup time counts it
from lrpcore.cli.common import check_outputs_free, model_files, png_output  # noqa: E402
from lrpcore.errors import LRPError  # noqa: E402
from lrpcore.text import short  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="lrp-explorer",
        description="Explore Layer-wise Relevance Propagation explanations of a model.",
        epilog="example: lrp-explorer --model models/mnist-lenet5.npz --dataset mnist-sample")
    p.add_argument("--model", help="model file (.npz, .txt, .nn, .onnx) or a bundled model's "
                   "name (mnist-lenet5, efficientnet-lite0)")
    p.add_argument("--dataset", help="dataset file, image folder or PNG/JPEG photograph, or a "
                   "built-in name (mnist-test, mnist-sample, natural-images)")
    p.add_argument("--rule", help="rule spec or preset to start with, e.g. epsilon:0.1 "
                   "(default: the model's — EpsilonPlus for graph models such as ONNX files and "
                   "efficientnet-lite0, epsilon:0.01 for toolbox models — or the last run's "
                   "for the same kind of model)")
    p.add_argument("--colormap", help="colormap to start with")
    p.add_argument("--dtype", choices=("float32", "float64"),
                   help="precision to start with (float32 is about twice as fast; default: "
                   "the model's — float32 for graph models, float64 for toolbox models)")
    p.add_argument("--sample", type=int, help="dataset index of the sample to explain first")
    p.add_argument("--misclassified", action="store_true",
                   help="show only misclassified samples in the grid (of a segmentation "
                   "model: those whose class at the most pixels is not their label)")
    p.add_argument("--region", metavar="Y0:Y1,X0:X1",
                   help="of a segmentation model: explain the target's pixels in this box of "
                   "its output map (rows Y0 to Y1, columns X0 to X1, as lrp explain --region)")
    p.add_argument("--quit-after-load", action="store_true",
                   help="quit once the first explanation is on display (smoke test)")
    p.add_argument("--screenshot", metavar="PNG", type=png_output,
                   help="save a picture of the window (PNG) after loading, then quit")
    p.add_argument("--profile", action="store_true",
                   help="print median click-to-heatmap (split into forward, relevance, "
                   "diagnosis, render, GUI) and colormap-switch times, then quit")
    p.add_argument("--profile-stats", metavar="PREFIX",
                   help="with --profile: write cProfile statistics of the worker and the GUI "
                   "thread to PREFIX-worker.pstats and PREFIX-gui.pstats")
    p.add_argument("--settings", metavar="INI",
                   help="use this settings file instead of the user's (also LRP_EXPLORER_SETTINGS)")
    p.add_argument("--timeout", type=_seconds, default=60.0,
                   help="seconds to wait for the first explanation in the modes that quit")
    args = p.parse_args(argv)
    if args.settings:  # a folder or an unwritable file: every change was silently dropped
        from .settings import settings_file_problem  # noqa: PLC0415

        problem = settings_file_problem(args.settings)
        if problem:
            p.error(f"argument --settings: {problem}")
    if args.profile_stats and not args.profile:  # it wrote nothing and said nothing
        p.error("--profile-stats needs --profile (the statistics are of its clicks)")
    if args.screenshot:  # a missing folder: now, not after the first explanation
        try:
            # --dataset photo.png --screenshot photo.png replaced the photograph it showed
            check_outputs_free([args.screenshot], overwrite=True,
                               inputs=[args.dataset, *model_files(args.model)])
        except LRPError as exc:
            p.error(f"argument --screenshot: {exc}")
    return args


def _seconds(text: str) -> float:
    """argparse type of ``--timeout``: NaN never compares as elapsed (a wait forever), and
    zero, negative or infinite waits make the quitting modes fail or never quit."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive, finite number of seconds")
    return value


def main(argv=None) -> int:
    from lrpcore.text import escaping_output  # noqa: PLC0415

    with escaping_output():  # --help and messages on an ASCII terminal: escapes, no crash
        return _main(argv)


def _main(argv=None) -> int:
    args = parse_args(argv)
    if args.settings:
        os.environ["LRP_EXPLORER_SETTINGS"] = args.settings
    from .display_check import display_problem

    problem = display_problem()
    if problem:  # say it in one sentence instead of Qt's abort
        print(f"lrp-explorer: {problem}", file=sys.stderr)
        return 1
    keep_freed_memory()
    from lrpcore.errors import RawValuesWarning  # noqa: PLC0415

    # the library's warning for samples that do not look raw: the status bar says it in the
    # explorer's words (Session.raw_values_hint); its workers' copies went to stderr
    warnings.filterwarnings("ignore", category=RawValuesWarning)
    from PySide6.QtWidgets import QApplication

    _quiet_offscreen_notes()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("LRP Explorer")
    app.setOrganizationName("lrp-explorer")
    from .main_window import MainWindow

    window = MainWindow(model=args.model, dataset=args.dataset, wait=False)
    window.show()  # at once: its files are read on a worker meanwhile
    quitting = args.profile or args.quit_after_load or args.screenshot
    # the options set the view the files open into (a sample of the dataset, a rule after
    # the model's defaults)
    window.wait_opened(args.timeout if quitting else None)
    if not window.isVisible():  # closed before its files were open
        return 0
    problems = _apply_options(window, args)
    for problem in problems:  # bad options are reported, the window opens
        window.show_error("Invalid option", problem, quiet=True)
        print(f"lrp-explorer: {problem}", file=sys.stderr)
    # a script that asked for a view it did not get (a refused option) gets exit status 1, as
    # for a model file that does not open, and no picture of another view
    refused = 1 if problems else 0
    if args.profile:
        from .profiling import run_profile

        code = run_profile(app, window, timeout=args.timeout, stats=args.profile_stats)
        window.close()
        return code or refused
    if args.quit_after_load or args.screenshot:
        code = _load_then(app, window, args, save=not problems)
        window.close()
        return code or refused
    code = app.exec()
    return int(code)


OFFSCREEN_NOTES = ("This plugin does not support",)  # e.g. propagateSizeHints(), raise()


def _quiet_offscreen_notes() -> None:
    """Qt's offscreen platform (--screenshot without a display, as the README shows) notes
    on stderr every window feature it lacks; those notes are dropped, all else is printed."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, text):
        if not text.startswith(OFFSCREEN_NOTES):
            print(text, file=sys.stderr)

    qInstallMessageHandler(handler)


def _apply_options(window, args) -> list[str]:
    """Set the start view; returns one message per option that was refused."""
    s = window.state
    problems = []
    for field, value in (("rule", args.rule), ("colormap", args.colormap),
                         ("sample_index", args.sample), ("dtype", args.dtype),
                         ("region", getattr(args, "region", None))):
        if value is None or value == "":
            continue
        try:
            setattr(s, field, value)
        except Exception as exc:
            # the value cut short: a 5,000-digit --region was a 5,000-character message
            problems.append(f"--{field.split('_')[0]} {short(value, 40)}: {exc}")
    if args.misclassified and s.dataset is not None and s.labels is None:
        # the filter hid every sample behind a checked, disabled box the user could not clear
        problems.append(f"--misclassified: {os.path.basename(str(s.dataset_name))} has no "
                        f"labels, so {_no_mismatch(s.model)}")
    elif args.misclassified:
        s.misclassified_only = True
        if args.sample is None:  # a sample asked for stays on display, filter or not
            window.predictions_done.connect(_select_first_misclassified(window))
    return problems


def _no_mismatch(model) -> str:
    """Why no sample can be shown without labels, in the grid filter's words: a
    segmentation model's samples are not "misclassified" (a label is no mask of classes)."""
    from lrpcore.targets import model_map_shape  # noqa: PLC0415

    if model is not None and model_map_shape(model):
        return "no sample's class at the most pixels can be compared with a label"
    return "no sample can be called misclassified"


def _select_first_misclassified(window):
    def select():
        rows = window.grid.model.dataset_indices()
        if rows.size and window.state.sample_index not in rows:
            window.state.sample_index = int(rows[0])
    return select


def _load_then(app, window, args, save=True) -> int:
    from .profiling import wait_for_explanation

    ok = wait_for_explanation(app, window, args.timeout)
    if ok:
        print(f"first explanation on display {time.perf_counter() - STARTED:.2f} s after start")
    elif window.state.model is not None or args.model or args.dataset:
        # a file named on the command line that did not open is a failure too, not only
        # a timeout; an empty window (no model anywhere) is what was asked for
        print(f"lrp-explorer: no explanation on display: "
              f"{window.last_error or 'none within the timeout'}", file=sys.stderr)
        return 1
    if args.screenshot and not save:
        print(f"lrp-explorer: {args.screenshot} not saved: an option was refused",
              file=sys.stderr)
    elif args.screenshot:
        from PySide6.QtCore import QCoreApplication, QEventLoop

        deadline = time.perf_counter() + args.timeout
        while window.controller.pending("predict") and time.perf_counter() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        wait_for_explanation(app, window, args.timeout, index=window.state.sample_index)

        for _ in range(5):
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        problem = _save_png(window.grab(), args.screenshot)
        if problem:
            print(f"lrp-explorer: {problem}", file=sys.stderr)
            return 1
        print(f"saved {args.screenshot}")
    return 0


def _save_png(pixmap, path) -> str | None:
    """Write ``pixmap`` to ``path`` whole or not at all; the problem in one line, or None.
    Qt wrote in place: on a full disk an earlier file was truncated to part of a PNG."""
    from PySide6.QtCore import QBuffer, QIODevice

    from lrpcore.errors import LRPError
    from lrpcore.fileio import atomic_write_bytes

    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not pixmap.save(buf, "PNG"):
        return f"{path}: cannot encode the window as PNG"
    try:
        atomic_write_bytes(path, bytes(buf.data()))
    except LRPError as exc:
        return str(exc)
    return None


if __name__ == "__main__":
    raise SystemExit(main())
