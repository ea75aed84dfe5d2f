"""Files named by relative paths are recorded absolute, so what was written can be read back
from another folder (acceptance review). `lrp explain m.npz x.npy --out out/R.npy` wrote
``"input": "x.npy"`` in the sidecar and `lrp demo --dataset FILE` only the file's base name,
so `cd out && lrp render R.npy --side-by-side` failed with "--side-by-side needs --input";
the explorer remembered `--model m.npz` as "m.npz" and, started from another folder, silently
opened the bundled model instead."""

from __future__ import annotations

import json
import shutil

import numpy as np

from lrpcore.bundled import default_model_path
from lrpcore.cli.main import main


def _digits(folder, name="x.npy", n=4):
    x = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    np.save(folder / name, x)
    return x


def test_explain_sidecar_leads_render_to_its_input_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(default_model_path(), tmp_path / "m.npz")
    _digits(tmp_path)
    (tmp_path / "out").mkdir()
    assert main(["explain", "m.npz", "x.npy", "--out", "out/R.npy"]) == 0
    side = json.loads((tmp_path / "out" / "R.npy.json").read_text())
    assert side["dataset"] == str(tmp_path / "x.npy") and side["model"] == str(tmp_path / "m.npz")
    monkeypatch.chdir(tmp_path / "out")
    assert main(["render", "R.npy", "--index", "2", "--side-by-side", "--out", "hm.png"]) == 0
    drawn = json.loads((tmp_path / "out" / "hm.png.json").read_text())
    assert drawn["layout"].startswith("input")


def test_demo_on_a_dataset_file_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _digits(tmp_path, "d_images.npy")
    np.save(tmp_path / "d_labels.npy", np.arange(4) % 10)
    assert main(["demo", "--dataset", "d_images.npy", "--out", "demo", "--count", "1",
                 "--batch", "2"]) == 0
    (npy,) = sorted((tmp_path / "demo").glob("relevance_[0-9].npy"))
    assert json.loads((npy.parent / (npy.name + ".json")).read_text())["dataset"] == \
        str(tmp_path / "d_images.npy")
    monkeypatch.chdir(tmp_path / "demo")
    assert main(["render", npy.name, "--side-by-side", "--out", "hm.png"]) == 0


def test_the_explorer_session_keeps_absolute_paths(tmp_path, monkeypatch):
    from lrpgui.session import Session
    from lrpgui.state import AppState

    monkeypatch.chdir(tmp_path)
    shutil.copy(default_model_path(), tmp_path / "m.npz")
    _digits(tmp_path)
    session = Session(AppState())
    session.open_model("m.npz")
    session.open_dataset("x.npy")
    assert session.state.model_path == str(tmp_path / "m.npz")
    assert session.state.dataset_name == str(tmp_path / "x.npy")
    session.open_dataset("mnist-test")  # a built-in name stays a name
    assert session.state.dataset_name == "mnist-test"
