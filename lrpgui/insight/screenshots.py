"""Pictures of the compare view and the draw pad for the docs (run under Xvfb).

``xvfb-run -a python -m lrpgui.insight.screenshots docs`` opens the bundled LeNet-5 and the
offline MNIST sample, fills the compare view with six rules and draws a digit on the pad,
then saves ``screenshot-compare.png`` and ``screenshot-draw.png`` into the folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lrpcore.fileio import atomic_write_bytes

RULES = ("epsilon:0.01", "alphabeta:2", "EpsilonPlusFlat", "EpsilonGammaBox", "sensitivity",
         "gradxinput")
SEVEN = (((0.24, 0.2), (0.74, 0.18)), ((0.74, 0.18), (0.52, 0.5)), ((0.52, 0.5), (0.4, 0.84)))


def _wait(app, condition, timeout=60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.01)
    return False


def _save(widget, path: Path) -> None:
    from PySide6.QtCore import QBuffer, QIODevice

    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(buf, "PNG")
    atomic_write_bytes(path, bytes(buf.data()))
    print(f"wrote {path}")


def _draw(app, pad, segments) -> None:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    r = pad.canvas_rect()
    for a, b in segments:
        pts = [QPoint(int(r.x() + (a[0] + (b[0] - a[0]) * t) * r.width()),
                      int(r.y() + (a[1] + (b[1] - a[1]) * t) * r.height()))
               for t in np.linspace(0, 1, 15)]
        QTest.mousePress(pad, Qt.MouseButton.LeftButton, pos=pts[0])
        for p in pts[1:]:
            QTest.mouseMove(pad, p)
            app.processEvents()
        QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=pts[-1])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("LRP_EXPLORER_SETTINGS",
                          str(Path(tempfile.mkdtemp()) / "lrp-explorer.ini"))
    from PySide6.QtWidgets import QApplication

    from lrpcore.bundled import default_model_path

    from ..main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(model=str(default_model_path()), dataset="mnist-sample")
    window.show()
    if not _wait(app, lambda: window.state.explanation is not None):
        print("no explanation", file=sys.stderr)
        return 1
    window.state.sample_index = 4
    tools = window.insight
    compare = tools.show("compare", (1150, 820))
    compare.set_rules(RULES)
    compare.set_mode("all")
    _wait(app, lambda: compare.result is not None and len(compare.result.comparison.rows) == 6
          and compare.result.comparison.classes == tuple(range(10)) and not compare.busy())
    _wait(app, lambda: False, 0.5)
    _save(tools.docks["compare"], out / "screenshot-compare.png")
    tools.docks["compare"].hide()

    draw = tools.show("draw", (980, 440))
    _wait(app, lambda: draw.pad.isVisible())
    _draw(app, draw.pad, SEVEN)
    _wait(app, lambda: draw.result is not None and draw.result_version == draw.pad.version
          and not draw.busy())
    draw.add_to_scratch()
    _wait(app, lambda: False, 0.5)
    _save(tools.docks["draw"], out / "screenshot-draw.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
