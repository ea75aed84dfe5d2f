"""lrpcore.batch_export: the one "explain a batch and export" routine of ``lrp demo``,
``lrp explain --png`` and the GUI's batch export."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore import batch_export
from lrpcore.bundled import default_model_path
from lrpcore.errors import Cancelled, ExportError
from lrpcore.explain import Explainer


@pytest.fixture(scope="module")
def setting():
    model = lrpcore.load_model(default_model_path())
    ds = lrpcore.open_dataset("mnist-test")
    return model, ds


def test_writes_what_explain_computes(setting, tmp_path):
    model, ds = setting
    ex = Explainer(model, "numpy", "float64")
    idx = [5, 1, 9]
    paths = batch_export.explain_and_export(tmp_path, ex, ds.images, idx, "epsilon:0.01",
                                            "true", ds.labels, cmaps=["bwr"], chunk=2)
    assert sorted(p.name for p in paths) == sorted(
        [f"heatmap_{i}_bwr.png" for i in idx] + [f"relevance_{i}.npy" for i in idx])
    want = lrpcore.explain(model, ds.images(idx), rule="epsilon:0.01", target="true",
                           labels=ds.labels[idx])
    for k, i in enumerate(idx):
        np.testing.assert_allclose(np.load(tmp_path / f"relevance_{i}.npy"), want[k],
                                   rtol=1e-10, atol=1e-12)
        assert (tmp_path / f"heatmap_{i}_bwr.png.json").exists()
    with pytest.raises(ExportError, match="already exist"):  # refused before computing
        batch_export.explain_and_export(tmp_path, ex, None, idx, "simple")


def test_cancel_leaves_nothing(setting, tmp_path):
    model, ds = setting
    ex = Explainer(model, "numpy", "float64")
    done = []
    with pytest.raises(Cancelled):
        batch_export.explain_and_export(tmp_path, ex, ds.images, range(6), "simple",
                                        cmaps=["bwr"], chunk=2,
                                        progress=lambda d, t: done.append(d),
                                        cancel=lambda: len(done) >= 3)
    assert list(tmp_path.iterdir()) == []


def test_demo_explain_png_and_the_gui_share_it(setting, tmp_path, monkeypatch, qtbot):
    calls = []
    real = batch_export.export_explanations

    def counted(*args, **kwargs):
        calls.append(kwargs.get("npy"))
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_export, "export_explanations", counted)
    from lrpcore.cli.main import main

    model = str(default_model_path())
    assert main(["demo", "--model", model, "--dataset", "mnist-test", "--count", "2",
                 "--batch", "2", "--out", str(tmp_path / "demo")]) == 0
    np.save(tmp_path / "x.npy", setting[1].images(slice(0, 2)))
    assert main(["explain", model, str(tmp_path / "x.npy"), "--out", str(tmp_path / "R.npy"),
                 "--png", str(tmp_path / "png")]) == 0
    from lrpgui import MainWindow

    window = MainWindow(model=model, dataset=str(tmp_path / "x.npy"))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=20000)
    (tmp_path / "gui").mkdir()
    with qtbot.waitSignal(window.export_finished, timeout=30000):
        window.batch_export(str(tmp_path / "gui"), scope="filtered", formats=("png",))
    assert calls == [True, False, False]  # demo (with .npy), lrp explain --png, the GUI
    assert sorted(p.name for p in (tmp_path / "gui").glob("*.png")) == [
        f"heatmap_{i}_{window.state.colormap}.png" for i in (0, 1)]
    window.close()


def test_every_sidecar_names_the_predicted_and_explained_class(tmp_path):
    """A batch of target "pred" (lrp demo, lrp explain --png, the GUI's batch export) wrote
    sidecars that said nowhere which class each heatmap explains; the GUI's single exports
    name it, and so do these now: by index and name, per sample."""
    import json

    from colour_models import NAMES, colour_graph_model

    from lrpcore.cli.main import main

    model = colour_graph_model(16)
    x = np.random.default_rng(3).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    pred = lrpcore.predict(model, x).argmax(1)
    ex = Explainer(model, "numpy", "float64")
    batch_export.explain_and_export(tmp_path / "b", ex, lambda idx: x[idx], [0, 1, 2],
                                    "epsilon:0.01", "pred", cmaps=["bwr"])
    for i in range(3):
        for name in (f"heatmap_{i}_bwr.png.json", f"relevance_{i}.npy.json"):
            side = json.loads((tmp_path / "b" / name).read_text())
            assert side["predicted_class"] == side["explained_class"] == int(pred[i])
            assert side["explained_name"] == NAMES[pred[i]]
    path = tmp_path / "m.npz"
    lrpcore.save_model(model, path)
    np.save(tmp_path / "x.npy", x)
    assert main(["explain", str(path), str(tmp_path / "x.npy"), "--out", str(tmp_path / "R.npy"),
                 "--png", str(tmp_path / "png"), "--target", "Egyptian cat"]) == 0
    side = json.loads((tmp_path / "png" / "heatmap_1_bwr.png.json").read_text())
    assert side["explained_class"] == 7 and side["explained_name"] == "Egyptian cat"
    assert side["predicted_name"] == NAMES[pred[1]]
