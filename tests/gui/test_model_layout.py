"""The window works in the model's input layout: ``state.relevance`` is exactly what
``lrpcore.explain`` returns (32×32×1 for the padded LeNet-5, 784 for a dense net), the views
draw the model input beside it at the same size, and the GUI's PNGs are the very files
``lrp explain --png`` writes for the same settings."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF

import lrpcore
from lrpcore.bundled import MODELS_DIR
from lrpcore.cli.main import main as lrp_main

SCALING = 3  # the views and both exports draw each model input pixel as 3×3


def bundled(name):
    path = MODELS_DIR / name
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return path


def read_png(path):
    from skimage.io import imread

    return imread(path)[..., :3]


def engine(window, index):
    """The explanation of the window's settings straight from the engine."""
    s = window.state
    images = s.dataset.images(np.arange(len(s.dataset)))
    target = int(s.target) if s.target.isdigit() else s.target
    return lrpcore.explain(s.model, images[index:index + 1], rule=s.rule, target=target,
                           labels=s.labels[index:index + 1])[0]


def settle(qtbot, window, rule, target, index):
    s = window.state
    s.rule, s.target, s.sample_index = rule, target, index
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    return s


def test_lenet5_relevance_is_the_engine_output_in_the_padded_layout(make_window, qtbot):
    window = make_window(model=bundled("mnist-lenet5.npz"))
    s = settle(qtbot, window, "alphabeta:2", "true", 5)
    want = engine(window, 5)
    assert s.relevance.shape == want.shape == (32, 32, 1)
    np.testing.assert_allclose(s.relevance, want, rtol=1e-10, atol=0)
    assert float(s.relevance.sum()) == pytest.approx(float(want.sum()), rel=1e-10)
    # the status bar's ΣR is the sum of that full map (the padding's relevance included)
    assert f"ΣR = {float(want.sum()):.5g}" in window.conservation_label.toolTip()
    # input and heatmap: both the 32×32 model input, enlarged alike, so zoom and hover line up
    assert window.views.rendered_rgb.shape[:2] == (32 * SCALING, 32 * SCALING)
    assert window.views.input_item.image.shape[:2] == (32 * SCALING, 32 * SCALING)
    for item in (window.views.input_item, window.views.heat_item):  # one pixel = one unit
        assert item.mapRectToParent(item.boundingRect()) == QRectF(0, 0, 32, 32)


def test_hover_in_the_padding_reports_the_pad_value(make_window, qtbot):
    window = make_window(model=bundled("mnist-lenet5.npz"))
    s = settle(qtbot, window, "epsilon:0.01", "pred", 3)
    spec = s.model.input_spec
    corner = window.views.describe_point(QPointF(0.5, 1.5))
    assert corner.startswith("row 1, col 0: input ")
    assert f"input {spec.pad_value:.4g}," in corner
    assert f"relevance {s.relevance[1, 0, 0]:+.4g}" in corner
    fed = spec.preprocess(s.dataset.images([3]))[0]
    text = window.views.describe_point(QPointF(31.5, 31.5))  # the last pixel, not the raw 27
    assert text.startswith("row 31, col 31: ") and f"input {fed[31, 31, 0]:.4g}," in text
    assert window.views.describe_point(QPointF(32.5, 3.0)) == ""


def test_dense_model_shows_its_784_inputs_as_28x28(make_window, qtbot):
    window = make_window(model=bundled("mnist-dense-rect.npz"))
    s = settle(qtbot, window, "epsilon:0.01", "pred", 2)
    want = engine(window, 2)
    assert s.relevance.shape == want.shape == (784,)
    np.testing.assert_allclose(s.relevance, want, rtol=1e-10, atol=0)
    assert window.views.rendered_rgb.shape[:2] == (28 * SCALING, 28 * SCALING)
    assert window.views.input_item.image.shape[:2] == (28 * SCALING, 28 * SCALING)
    text = window.views.describe_point(QPointF(4.5, 9.5))
    assert text.startswith("row 9, col 4: ")
    assert f"relevance {want[9 * 28 + 4]:+.4g}" in text


def cli_pngs(tmp_path, window, samples, cmaps, outline=True):
    """Run ``lrp explain --png`` on the first ``samples`` images with the window's settings."""
    s = window.state
    images = tmp_path / "cli_in.npy"
    np.save(images, s.dataset.images(np.arange(samples)))
    folder = tmp_path / "cli_png"
    argv = ["explain", s.model_path, str(images), "--out", str(tmp_path / "cli_R.npy"),
            "--rule", s.rule, "--target", s.target, "--backend", "numpy", "--png",
            str(folder), "--overwrite"]
    argv += [arg for c in cmaps for arg in ("--colormap", c)]
    argv += [] if outline else ["--no-outline"]
    assert lrp_main(argv) == 0
    return folder


@pytest.mark.parametrize("cmap, outline", [("black-firered", True), ("bwr", False)])
def test_gui_png_equals_the_lrp_explain_png(make_window, qtbot, tmp_path, cmap, outline):
    window = make_window(model=bundled("mnist-lenet5.npz"))
    s = settle(qtbot, window, "EpsilonPlusFlat", "pred", 2)
    s.colormap, s.outline = cmap, outline
    gui = tmp_path / "gui.png"
    assert window.export_png(str(gui))
    cli = cli_pngs(tmp_path, window, 3, [cmap], outline) / f"heatmap_2_{cmap}.png"
    got, want = read_png(gui), read_png(cli)
    assert got.shape == want.shape == (32 * SCALING, 2 * 32 * SCALING + 2, 3)
    np.testing.assert_array_equal(got, want)


def test_all_colormaps_and_batch_pngs_equal_the_lrp_explain_pngs(make_window, qtbot,
                                                                  tmp_path):
    window = make_window(model=bundled("mnist-lenet5.npz"))
    s = settle(qtbot, window, "alphabeta:1", "pred", 1)
    cmaps = ["gray-red", "black-green"]
    cli = cli_pngs(tmp_path, window, 3, cmaps)
    every = tmp_path / "every"
    every.mkdir()
    window.export_all_colormaps(str(every))
    for c in cmaps:
        np.testing.assert_array_equal(read_png(every / f"heatmap_1_{c}.png"),
                                      read_png(cli / f"heatmap_1_{c}.png"))
    s.colormap = cmaps[0]
    batch = tmp_path / "batch"
    batch.mkdir()
    with qtbot.waitSignal(window.export_finished, timeout=30000):
        window.batch_export(str(batch), scope="filtered", formats=("png", "npy"))
    cli_R = np.load(tmp_path / "cli_R.npy")
    w = len(str(len(s.dataset) - 1))  # the whole dataset's numbers, padded to the largest's
    for i in range(3):
        np.testing.assert_array_equal(read_png(batch / f"heatmap_{i:0{w}d}_{cmaps[0]}.png"),
                                      read_png(cli / f"heatmap_{i}_{cmaps[0]}.png"))
        np.testing.assert_allclose(np.load(batch / f"relevance_{i:0{w}d}.npy"), cli_R[i],
                                   rtol=1e-10, atol=1e-15)


def test_a_model_with_padding_layers_opens_and_explains(make_window, qtbot, tmp_path, toy_files):
    """A "same"-padded network (as PyTorch exports them) shows its Pad layers in the layer
    table, takes no rule there, and explains like the engine."""
    from lrpcore.layers import Convolution, Flatten, Linear, Pad, Rect
    from lrpcore.spec import InputSpec

    rng = np.random.default_rng(11)
    layers = [Pad((2, 2, 2, 2)), Convolution(rng.normal(0, 0.2, (5, 5, 1, 3)), np.zeros(3)),
              Rect(), Flatten(), Linear(rng.normal(0, 0.05, (28 * 28 * 3, 10)), np.zeros(10))]
    spec = InputSpec(shape=(28, 28, 1), raw_shape=(28, 28, 1))
    path = tmp_path / "padded.npz"
    lrpcore.save_model(lrpcore.Sequential(layers, spec), path)
    window = make_window(model=path)
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    from PySide6.QtWidgets import QTableWidget

    table = window.findChild(QTableWidget, "layerRuleTable")
    kinds = [table.item(r, 1).text() for r in range(table.rowCount())]
    assert any(k.startswith("Pad") for k in kinds), kinds
    R = window.state.relevance
    assert R.shape == (28, 28, 1)
    np.testing.assert_allclose(R, engine(window, window.state.sample_index), rtol=1e-12,
                               atol=1e-15)
