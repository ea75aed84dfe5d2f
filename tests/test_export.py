"""Exports: file names and contents in the toolbox's layouts, JSON sidecars, atomic writes,
no overwriting unless asked, clean-up on failure and on cancel."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from shared_data import shared_arrays
from skimage import io as skio

import lrpcore
from lrpcore import export as E
from lrpcore.errors import ExportError, ShapeError
from lrpcore.render import TOOLBOX_COLORMAPS, compose, digit, heatmap


@pytest.fixture(scope="module")
def ref():
    return shared_arrays("reference", "render_dev.npz")


@pytest.fixture
def batch():
    rng = np.random.default_rng(3)
    R = rng.normal(size=(3, 12, 12, 1))
    x = np.zeros((3, 12, 12, 1))
    x[:, 3:9, 4:8] = 1.0
    return R, x


def _info(tmp_path):
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    return E.sidecar_info(model, "epsilon:0.01", "pred", "numpy", np.float64, note="test")


def test_sidecar_info_records_provenance(tmp_path):
    info = _info(tmp_path)
    assert info["model_sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert info["rules"] == "epsilon:0.01" and info["target"] == "pred"
    assert info["backend"] == "numpy" and info["dtype"] == "float64"
    assert info["version"] == lrpcore.__version__ and info["note"] == "test"
    assert "T" in info["time"]
    json.dumps(info)  # plain JSON types
    with pytest.raises(ExportError, match="missing.bin"):
        E.sidecar_info(tmp_path / "missing.bin", "simple", "pred", "numpy", "float64")


def test_toolbox_layout_png_matches_reference(ref, tmp_path):
    path = E.export_input_heatmap(tmp_path / "hm.png", ref["R"][0], ref["xs"][0], cmap="jet",
                                  info={"rules": "epsilon:0.01"})
    np.testing.assert_array_equal(skio.imread(path)[..., :3], ref["save_image_uint8"])
    side = json.loads((tmp_path / "hm.png.json").read_text())
    assert side["file"] == "hm.png" and side["colormap"] == "jet"
    assert side["rules"] == "epsilon:0.01" and side["outline"] is True


def test_heatmap_alone(batch, tmp_path):
    R, x = batch
    path = E.export_heatmap(tmp_path / "h.png", R[0], x[0], cmap="gray-red", scaling=2)
    np.testing.assert_array_equal(
        skio.imread(path)[..., :3], compose([heatmap(R[0], x[0], cmap="gray-red", scaling=2)]))


def test_every_colormap_of_one_sample(batch, tmp_path):
    R, x = batch
    paths = E.export_colormaps(tmp_path / "maps", R[1], x[1], index=7)
    assert [p.name for p in paths] == [f"heatmap_7_{c}.png" for c in TOOLBOX_COLORMAPS]
    for p, c in zip(paths, TOOLBOX_COLORMAPS, strict=True):
        want = compose([digit(x[1]), heatmap(R[1], x[1], cmap=c)])
        np.testing.assert_array_equal(skio.imread(p)[..., :3], want)
        assert json.loads(Path(str(p) + ".json").read_text())["sample"] == 7


def test_relevance_npy_and_batch(batch, tmp_path):
    R, _ = batch
    p = E.export_relevance(tmp_path / "r.npy", R[0], info={"rules": "simple"})
    np.testing.assert_array_equal(np.load(p), R[0])
    assert json.loads((tmp_path / "r.npy.json").read_text())["shape"] == [12, 12, 1]
    paths = E.export_relevance_batch(tmp_path / "out" / "all.npy", R, per_sample=True,
                                     indices=[4, 5, 6])
    assert [q.name for q in paths] == ["all.npy", "relevance_4.npy", "relevance_5.npy",
                                       "relevance_6.npy"]
    np.testing.assert_array_equal(np.load(paths[0]), R)
    np.testing.assert_array_equal(np.load(paths[2]), R[1])
    with pytest.raises(ShapeError, match="NaN"):
        E.export_relevance(tmp_path / "bad.npy", np.array([np.nan, 1.0]))
    assert not (tmp_path / "bad.npy").exists()


def test_figure_grid(batch, tmp_path):
    R, x = batch
    path = E.export_figure(tmp_path / "fig.png", R, x, ["jet", "gray-red"], indices=[0, 1, 2])
    img = skio.imread(path)
    # three rows of 36-pixel images plus a title row; three columns (input + 2 maps)
    assert img.shape[0] > 3 * 36 and img.shape[1] > 3 * 36
    side = json.loads((tmp_path / "fig.png.json").read_text())
    assert side["colormaps"] == ["jet", "gray-red"] and side["samples"] == [0, 1, 2]
    # the jet heatmap of sample 0 appears in the figure unchanged
    hm = compose([heatmap(R[0], x[0], cmap="jet")])
    found = any(np.array_equal(img[r:r + 36, c:c + 36, :3], hm)
                for r in range(img.shape[0] - 35) for c in range(img.shape[1] - 35)
                if img[r, c, 0] == hm[0, 0, 0])
    assert found


def test_export_explanations_files_progress_and_sidecars(batch, tmp_path):
    R, x = batch
    calls = []
    paths = E.export_explanations(tmp_path / "png", R, x, [10, 11, 12], ["jet", "bwr"],
                                  info=_info(tmp_path), progress=lambda d, t: calls.append((d, t)),
                                  npy=True)
    assert calls == [(1, 3), (2, 3), (3, 3)]
    names = sorted(p.name for p in paths)
    assert names == sorted([f"heatmap_{i}_{c}.png" for i in (10, 11, 12) for c in ("jet", "bwr")]
                           + [f"relevance_{i}.npy" for i in (10, 11, 12)])
    for p in paths:
        assert Path(str(p) + ".json").is_file()
    planned = E.explanation_file_names([10, 11, 12], ["jet", "bwr"], npy=True)
    assert sorted(planned) == sorted(p.name for p in (tmp_path / "png").iterdir())
    with pytest.raises(ExportError, match=r"already exist.*--overwrite"):
        E.refuse_existing(tmp_path / "png", planned, hint="use --overwrite")
    E.refuse_existing(tmp_path / "nowhere", planned)  # a missing folder holds nothing
    side = json.loads((tmp_path / "png" / "heatmap_11_bwr.png.json").read_text())
    assert side["sample"] == 11 and side["colormap"] == "bwr" and side["rules"] == "epsilon:0.01"
    np.testing.assert_array_equal(skio.imread(tmp_path / "png" / "heatmap_11_bwr.png")[..., :3],
                                  compose([digit(x[1]), heatmap(R[1], x[1], cmap="bwr")]))


def test_export_explanations_without_inputs(batch, tmp_path):
    R, _ = batch
    paths = E.export_explanations(tmp_path, R.reshape(3, -1), None, [0, 1, 2], ["jet"])
    img = skio.imread(paths[0])
    assert img.shape[:2] == (36, 36)  # heatmap alone, flat square vectors accepted


def test_cancel_removes_files_of_this_call(batch, tmp_path):
    R, x = batch
    keep = tmp_path / "keep.txt"
    keep.write_text("older file")
    state = {"n": 0}

    def cancel():
        state["n"] += 1
        return state["n"] > 2  # cancel before the third sample

    out = E.export_explanations(tmp_path, R, x, [0, 1, 2], ["jet"], cancel=cancel)
    assert out == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_no_overwrite_unless_asked(batch, tmp_path):
    R, x = batch
    E.export_explanations(tmp_path, R, x, [0, 1, 2], ["jet"])
    before = (tmp_path / "heatmap_1_jet.png").read_bytes()
    with pytest.raises(ExportError, match="exists"):
        E.export_explanations(tmp_path, -R, x, [0, 1, 2], ["jet"])
    assert (tmp_path / "heatmap_1_jet.png").read_bytes() == before
    E.export_explanations(tmp_path, -R, x, [0, 1, 2], ["jet"], overwrite=True)
    assert (tmp_path / "heatmap_1_jet.png").read_bytes() != before


def test_failed_write_midway_leaves_nothing(batch, tmp_path, monkeypatch):
    R, x = batch
    import os

    count = {"n": 0}

    def flaky(real):  # renames, and the hard links that give new files their names
        def step(src, dst):
            count["n"] += 1
            if count["n"] == 5:  # the disk fills up during the third sample
                raise OSError(28, "No space left on device")
            return real(src, dst)
        return step

    monkeypatch.setattr(os, "replace", flaky(os.replace))
    monkeypatch.setattr(os, "link", flaky(os.link))
    with pytest.raises(ExportError, match="No space left"):
        E.export_explanations(tmp_path / "o", R, x, [0, 1, 2], ["jet"])
    assert list((tmp_path / "o").iterdir()) == []


def test_output_folder_under_a_regular_file(batch, tmp_path):
    R, x = batch
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="plain-file"):
        E.export_explanations(blocker / "out", R, x, [0, 1, 2], ["jet"])
    with pytest.raises(ExportError, match="plain-file"):
        E.export_heatmap(blocker / "h.png", R[0])


def test_mismatched_inputs_raise(batch, tmp_path):
    R, x = batch
    with pytest.raises(ShapeError):
        E.export_explanations(tmp_path, R, x[:2], [0, 1, 2], ["jet"])
    with pytest.raises(ShapeError, match="indices"):
        E.export_explanations(tmp_path, R, x, [0, 1], ["jet"])
    with pytest.raises(lrpcore.RuleError, match="unknown colormap"):
        E.export_explanations(tmp_path, R, x, [0, 1, 2], ["nope-map"])
    assert list(tmp_path.iterdir()) == []


def test_unit_inputs_scale_by_the_spec_or_per_sample():
    from lrpcore.spec import InputSpec, unit_inputs

    spec = InputSpec(shape=(2, 2, 1), raw_shape=(2, 2, 1))  # value range [-1, 1]
    fed = np.array([[[[-1.0], [0.0]], [[1.0], [3.0]]]])
    np.testing.assert_allclose(unit_inputs(spec, fed).ravel(), [0, 0.5, 1, 1])  # clipped
    no_spec = unit_inputs(None, np.array([[0.0, 2.0, 4.0], [5.0, 5.0, 5.0]]))
    np.testing.assert_allclose(no_spec, [[0, 0.5, 1], [0, 0, 0]])  # each sample its own range
