"""The sample and per-layer rules on display come back at the next start (they were not
remembered: the README listed only last model, dataset, rule, colormap and geometry), for the
files they were chosen on: what no longer fits (another model under the same file name, a
layer gone, a dataset grown shorter) is dropped and said in the status bar. Qt-free: the
session's side; tests/gui/test_session_restore.py is the window's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lrpgui.session import LAYER_RULES, SAMPLE, Session
from lrpgui.state import AppState

MODELS = Path(__file__).resolve().parents[1] / "models"
RULES = {0: "flat", 2: "epsilon:0.5", "convolution3": "zplus", "sumpool1": "epsilon:0.25"}


@pytest.fixture
def files(tmp_path):
    """A copy of LeNet-5 (which a test may replace by another model under the same name)
    and 40 MNIST-shaped samples with labels."""
    model = tmp_path / "model.npz"
    shutil.copy(MODELS / "mnist-lenet5.npz", model)
    rng = np.random.default_rng(0)
    images = tmp_path / "few_images.npy"
    np.save(images, rng.integers(0, 255, (40, 28, 28), dtype=np.uint8))
    np.save(tmp_path / "few_labels.npy", rng.integers(0, 10, 40))
    return str(model), str(images)


def _left(files, index=17, rules=RULES) -> dict:
    """What a session that ended on sample ``index`` with ``rules`` remembered."""
    session = Session(AppState())
    assert session.open_initial(*files) == []
    session.state.sample_index = index
    session.state.layer_rules = rules
    view = session.remembered_view()
    assert set(view) == {SAMPLE, LAYER_RULES}
    return view


def test_sample_and_layer_rules_come_back_as_left(files):
    view = _left(files)
    again = Session(AppState())
    assert again.open_initial(*files, view=view) == []
    s = again.state
    assert s.sample_index == 17
    assert s.layer_rules == RULES and list(s.layer_rules) == list(RULES)  # order: last wins
    assert "Last session" not in s.status  # nothing was dropped


def test_what_no_longer_fits_is_dropped_and_said(files, tmp_path):
    view = _left(files)
    shutil.copy(MODELS / "mnist-maxnet.npz", files[0])  # another model, the same file name
    np.save(files[1], np.zeros((10, 28, 28), dtype=np.uint8))  # and fewer samples
    np.save(tmp_path / "few_labels.npy", np.zeros(10, dtype=np.int64))
    again = Session(AppState())
    assert again.open_initial(*files, view=view) == []
    s = again.state
    # layer 2 is a max pool now (its sum pool's rule is not given to it); sumpool1 is gone
    assert s.layer_rules == {0: "flat", "convolution3": "zplus"}
    assert s.sample_index == 0
    assert "2=epsilon:0.5 (layer 2 is no longer sumpool0)" in s.status
    assert "sumpool1=epsilon:0.25" in s.status and "sample 17" in s.status
    assert "few_images.npy has 10" in s.status


def test_rules_of_another_model_are_not_applied(files):
    view = _left(files)
    again = Session(AppState())
    other = str(MODELS / "mnist-maxnet.npz")
    assert again.open_initial(other, files[1], view=view) == []
    assert again.state.layer_rules == {} and again.state.sample_index == 17
    assert "per-layer rules of model.npz were not restored" in again.state.status


@pytest.mark.parametrize("value", [None, "", "{", "[1, 2]", '{"rules": "x"}',
                                   '{"model": null, "rules": [[0]]}', '{"index": "3"}',
                                   "[" * 100_000])
def test_old_or_edited_settings_are_no_memory(files, value):
    again = Session(AppState())
    assert again.open_initial(*files, view={SAMPLE: value, LAYER_RULES: value}) == []
    assert again.state.layer_rules == {} and again.state.sample_index == 0


def test_a_window_closed_before_its_files_opened_keeps_the_last_view(files):
    assert Session(AppState()).remembered_view() == {}  # nothing open: nothing overwritten
    view = _left(files, rules={})
    assert json.loads(view[LAYER_RULES])["rules"] == []


def test_a_segmentation_models_region_is_kept_with_the_model_it_was_drawn_on():
    """The region (a box of a segmentation model's output map) is remembered with its model;
    opening a model whose map it does not fit explains the whole map again and says so."""
    from lrpgui.session import REGION

    seg = str(Path(__file__).resolve().parent / "data" / "zoo" / "segment_ts.onnx")
    session = Session(AppState())
    session.open_model(seg)
    s = session.state
    s.region = "2:10,3:12"
    assert s.region == (2, 10, 3, 12)
    assert json.loads(session.remembered_view()[REGION])["region"] == [2, 10, 3, 12]
    session.open_model(seg)  # the same map: the region stays
    assert s.region == (2, 10, 3, 12)
    session.open_model(str(MODELS / "mnist-lenet5.npz"))  # ten scores, no map
    assert s.region is None
    assert s.status.startswith("Region 2:10,3:12 → the whole map: mnist-lenet5.npz: a "
                               "region selects pixels of a segmentation model's output map")
    assert REGION not in session.remembered_view()
    with pytest.raises(Exception, match="output is no map"):
        s.region = (0, 2, 0, 2)
