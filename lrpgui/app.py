"""Command line of ``lrp-explorer`` / ``python -m lrpgui``."""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="lrp-explorer",
        description="Explore Layer-wise Relevance Propagation explanations of a model.",
        epilog="example: lrp-explorer --model models/mnist-lenet5.npz --dataset mnist-sample")
    p.add_argument("--model", help="model file (.npz native, .txt toolbox, ...)")
    p.add_argument("--dataset", help="dataset file or name (mnist-sample, mnist-test, ...)")
    p.add_argument("--quit-after-load", action="store_true",
                   help="quit once the first explanation is on display (smoke test)")
    p.add_argument("--screenshot", metavar="PNG",
                   help="save a picture of the window after loading, then quit")
    p.add_argument("--profile", action="store_true",
                   help="print median click-to-heatmap and colormap-switch times, then quit")
    p.add_argument("--settings", metavar="INI",
                   help="use this settings file instead of the user's (also LRP_EXPLORER_SETTINGS)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for the first explanation in the modes that quit")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.settings:
        os.environ["LRP_EXPLORER_SETTINGS"] = args.settings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("LRP Explorer")
    app.setOrganizationName("lrp-explorer")
    from .main_window import MainWindow

    window = MainWindow(model=args.model, dataset=args.dataset)
    window.show()
    if args.profile:
        from .profiling import run_profile

        code = run_profile(app, window, timeout=args.timeout)
        window.close()
        return code
    if args.quit_after_load or args.screenshot:
        code = _load_then(app, window, args)
        window.close()
        return code
    code = app.exec()
    return int(code)


def _load_then(app, window, args) -> int:
    from .profiling import wait_for_explanation

    ok = wait_for_explanation(app, window, args.timeout)
    if window.state.model is not None and not ok:
        print("lrp-explorer: no explanation within the timeout", file=sys.stderr)
        return 1
    if args.screenshot:
        from PySide6.QtCore import QCoreApplication, QEventLoop

        for _ in range(5):
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        pixmap = window.grab()
        if not pixmap.save(args.screenshot, "PNG"):
            print(f"lrp-explorer: cannot write {args.screenshot}", file=sys.stderr)
            return 1
        print(f"saved {args.screenshot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
