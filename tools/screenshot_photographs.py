"""The README's picture of the explorer on a photograph (run under Xvfb, needs the [imagenet]
extra):

    xvfb-run -a -s "-screen 0 1500x950x24" \
        python3 tools/screenshot_photographs.py docs/screenshot-imagenet.png

EfficientNet-Lite0 on scikit-image's chelsea in float32 with EpsilonPlus: the photograph, its
heatmap with the colour bar, the top-10 scores by name, the overlay panel and the colour sample
grid, docks sized so the images get the room. Saved as PNG, as a 256-colour one when that is
needed to stay under 300 KB; a fresh settings file keeps the user's layout out of it.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time

SIZE = (1480, 900)
LIMIT = 300 * 1024  # bytes a README picture may take


def _wait(app, condition, timeout=600.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def main(out: str) -> int:
    settings = tempfile.mkdtemp(prefix="lrp-shot-")
    os.environ["LRP_EXPLORER_SETTINGS"] = os.path.join(settings, "lrp-explorer.ini")
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice, Qt
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from lrpgui.main_window import MainWindow

    window = MainWindow(model="efficientnet-lite0", dataset="natural-images")
    s = window.state
    window.resize(*SIZE)
    window.show()
    window.wait_opened()  # the settings below are for the model once it is open
    s.dtype, s.rule = "float32", "EpsilonPlus"
    done = _wait(app, lambda: s.relevance is not None and s.explanation.request.dtype
                 == "float32" and not window.controller.pending("predict"))
    if not done:
        print("no explanation within the timeout", file=sys.stderr)
        return 1
    # the status bar shows the last explanation's time: a click's, not the start's (which
    # loads the model and compiles kernels)
    s.sample_index = 1
    _wait(app, lambda: s.relevance is not None)
    s.sample_index = 0
    if not _wait(app, lambda: s.relevance is not None):
        print("no explanation within the timeout", file=sys.stderr)
        return 1
    docks = {d.objectName(): d for d in window.findChildren(type(window.colour_dock))}
    window.resizeDocks([docks["sampleDock"]], [150], Qt.Orientation.Vertical)
    window.resizeDocks([docks["browserDock"], docks["ruleDock"]], [200, 380],
                       Qt.Orientation.Horizontal)
    window.resizeDocks([docks["ruleDock"], docks["colourDock"]], [230, 420],
                       Qt.Orientation.Vertical)
    window.views.reset_zoom()
    for _ in range(20):
        app.processEvents()
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    window.grab().save(buf, "PNG")
    image = Image.open(io.BytesIO(bytes(buf.data()))).convert("RGB")
    for dither in (None, Image.Dither.FLOYDSTEINBERG, Image.Dither.NONE):  # best that fits
        # octree keeps the colour bar's gradient (median cut turned bwr's reds into tan bands)
        picture = image if dither is None else image.quantize(
            256, method=Image.Quantize.FASTOCTREE, dither=dither)
        picture.save(out, optimize=True)
        if os.path.getsize(out) <= LIMIT:
            break
    print(f"saved {out} ({os.path.getsize(out) // 1024} KB)")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "screenshot-imagenet.png"))
