"""A SpRAy result opened in the explorer belongs to the dataset it was made on (acceptance
review): `lrp spray mnist-lenet5 mnist-sample --class 3` saved indices 1500..1999, which the
SpRAy window applied to whatever dataset was open (mnist-test: its sample grid then listed
digits of every class as "class 3's strategies"). Results name their dataset (the CLI's and
the window's own); Open refuses one made on other data, naming both."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lrpcore.cli.main import main
from lrpcore.spray import SprayResult

MODELS = Path(__file__).resolve().parents[2] / "models"


def _result(meta):
    rng = np.random.default_rng(0)
    n = 12
    return SprayResult(indices=np.arange(n), labels=np.zeros(n, np.int64),
                       heatmaps=rng.normal(size=(n, 32, 32)),
                       features=rng.normal(size=(n, 64)), clusters=np.arange(n) % 2,
                       eigenvalues=np.linspace(0, 1, 6), embedding=rng.normal(size=(n, 2)),
                       meta={"class": 0, **meta})


def test_open_refuses_a_result_of_another_dataset(make_window, toy_files, tmp_path):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    panel = window.insight.show("spray")
    other, older = tmp_path / "other.npz", tmp_path / "older.npz"
    _result({"dataset": "mnist-sample"}).save(other)
    _result({"data": "mnist-sample"}).save(older)  # the key results of before wrote
    for path in (other, older):
        assert panel.open(str(path)) is None
        assert "mnist-sample" in panel.last_error and str(toy_files[1]) in panel.last_error
    assert window.state.filter_subset is None
    mine, old = tmp_path / "mine.npz", tmp_path / "old.npz"
    _result({"data": str(toy_files[1])}).save(mine)
    _result({}).save(old)  # a result that names no dataset opens as before
    assert panel.open(str(mine)) is not None and panel.open(str(old)) is not None


def test_a_result_the_window_computed_names_its_dataset(make_window, toy_files, qtbot,
                                                        tmp_path):
    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    panel = window.insight.show("spray")
    with qtbot.waitSignal(panel.updated, timeout=60000):
        panel.start()
    path = panel.save(str(tmp_path / "run.npz"))
    meta = SprayResult.load(path).meta
    assert meta["dataset"] == str(toy_files[1]) and "data" not in meta
    assert meta["model"] == str(MODELS / "mnist-lenet5.npz")


def test_the_command_records_its_dataset_file_absolute(tmp_path, monkeypatch, toy_files):
    monkeypatch.chdir(toy_files[1].parent)
    out = tmp_path / "s.npz"
    assert main(["spray", "mnist-lenet5", toy_files[1].name, "--out", str(out),
                 "--embedding", "none", "--k", "2"]) == 0
    assert SprayResult.load(out).meta["dataset"] == str(toy_files[1])
    json.dumps(SprayResult.load(out).meta)  # plain JSON values
