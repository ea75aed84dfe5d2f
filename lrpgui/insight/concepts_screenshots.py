"""Pictures of the SpRAy window (the Clever Hans example) and the Concepts panel for the docs.

``xvfb-run -a python -m lrpgui.insight.concepts_screenshots docs`` trains the watermark model
(lrpcore.watermark, seconds), runs SpRAy on its class 3 and saves ``screenshot-spray.png``;
then opens the bundled LeNet-5 on the MNIST sample, finds the reference samples of a layer's
channels and saves ``screenshot-concepts.png``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from .screenshots import _save, _wait


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    os.environ.setdefault("LRP_EXPLORER_SETTINGS", str(tmp / "lrp-explorer.ini"))
    os.environ.setdefault("LRP_CACHE_DIR", str(tmp / "cache"))
    from PySide6.QtWidgets import QApplication

    from lrpcore.bundled import default_model_path
    from lrpcore.watermark import train_watermark_model, watermarked_digits

    from ..main_window import MainWindow

    x, y, marked = watermarked_digits()
    np.save(tmp / "watermark_images.npy", x.reshape(len(x), 784))
    np.save(tmp / "watermark_labels.npy", y)
    train_watermark_model(x, y, tmp / "watermark-model.npz")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(model=str(tmp / "watermark-model.npz"),
                        dataset=str(tmp / "watermark_images.npy"))
    window.resize(1400, 900)
    window.show()
    if not _wait(app, lambda: window.state.explanation is not None):
        print("no explanation", file=sys.stderr)
        return 1
    tools = window.insight
    spray = tools.show("spray", (1250, 860))
    spray.class_box.setCurrentIndex(spray.class_box.findData(3))
    spray.refresh()
    _wait(app, lambda: spray.result is not None or spray.last_error, 300)
    r = spray.result
    if r is None:
        print(f"SpRAy failed: {spray.last_error}", file=sys.stderr)
        return 1
    wm = int(np.bincount(r.clusters[np.isin(r.indices, marked)]).argmax())
    spray.select_cluster(wm)
    spray.preview_sample(int(np.flatnonzero(r.clusters == wm)[0]))
    _wait(app, lambda: False, 0.5)
    _save(tools.docks["spray"], out / "screenshot-spray.png")
    window.close()

    window = MainWindow(model=str(default_model_path()), dataset="mnist-sample")
    window.resize(1400, 900)
    window.show()
    _wait(app, lambda: window.state.explanation is not None)
    window.state.sample_index = 7
    concepts = window.insight.show("concepts", (1150, 800))
    concepts.set_layer(3)
    _wait(app, lambda: concepts.result is not None and concepts.result.layer == 3
          and window.state.sample_index == 7, 120)
    concepts.find_references()
    _wait(app, lambda: concepts.references is not None, 300)
    _wait(app, lambda: False, 0.5)
    _save(window.insight.docks["concepts"], out / "screenshot-concepts.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
