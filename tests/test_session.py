"""lrpgui.session without Qt: the open/close rules, requests and staleness that the window
only binds to widgets (napari's ViewerModel idea). No QApplication is created here."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import lrpcore
from lrpcore.bundled import default_model_path
from lrpgui.services import ExplainService
from lrpgui.session import OpenError, Session
from lrpgui.state import AppState


@pytest.fixture
def session(tmp_path):
    cancelled = []
    s = Session(AppState(), cancel=cancelled.append)
    s.cancelled = cancelled
    return s


def test_importing_the_session_loads_no_qt():
    code = ("import sys, lrpgui.session; "
            "print(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_open_rules_and_the_empty_message(session, tmp_path):
    st = session.state
    assert "No model is open" in session.missing()
    session.open_model(default_model_path())
    assert "No dataset is open" in session.missing()
    session.open_dataset("mnist-test")
    assert session.missing() == "" and len(st.dataset) == 10000 and st.sample_index == 0
    assert "predict" in session.cancelled  # the old accuracy is no answer for new data
    # refusals leave everything as it was, with a title and a one-line message
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    with pytest.raises(OpenError) as info:
        session.open_model(bad)
    assert info.value.title == "Cannot open model" and str(bad) in str(info.value)
    np.save(tmp_path / "wide.npy", np.zeros((3, 40, 40), dtype=np.uint8))
    with pytest.raises(OpenError, match="wide.npy") as info:
        session.open_dataset(tmp_path / "wide.npy")
    assert info.value.title == "Dataset does not fit the model"
    assert st.dataset_name == "mnist-test"
    st.target = "true"
    np.save(tmp_path / "nolabels.npy", np.zeros((3, 28, 28), dtype=np.uint8))
    session.open_dataset(tmp_path / "nolabels.npy")
    assert st.target == "pred"  # no labels: no "true class"
    session.close_dataset()
    assert st.dataset is None and st.explanation is None and "explain" in session.cancelled


def test_requests_results_and_staleness(session):
    st = session.state
    session.open_model(default_model_path())
    session.open_dataset("mnist-test")
    st.sample_index = 4
    req = session.explain_request()
    assert req.index == 4 and req.label == int(st.labels[4]) and st.relevance is None
    result = ExplainService().run(req)
    st.sample_index = 5  # the user moved on before the answer came
    assert not session.accept_explanation(result) and st.relevance is None
    st.sample_index = 4
    assert session.accept_explanation(result) and session.last_result is result
    np.testing.assert_allclose(st.relevance, lrpcore.explain(
        st.model, st.dataset.images([4]), rule=st.rule)[0], rtol=1e-10, atol=1e-12)
    session.explain_request()  # a new request; its answer fails:
    session.explanation_failed()
    assert st.relevance is result.relevance  # the previous results come back
    predictions = np.full(len(st.dataset), -1)
    predictions[:10] = st.labels[:10]
    assert session.accept_predictions(predictions) == len(st.dataset) - 10
    assert st.accuracy == pytest.approx(1.0)


def test_jobs_and_sidecars_come_from_the_session(session, tmp_path):
    st = session.state
    assert session.predict_job() is None
    session.open_model(default_model_path())
    session.open_dataset("mnist-test")
    st.rule = "alphabeta:2"
    info = session.export_info(colormap="bwr")
    assert info["rules"] == session.rule_description() and info["dataset"] == "mnist-test"
    job = session.batch_export_job(tmp_path, [3, 1], ("npy",), chunk=1)
    assert job.request.rule == "alphabeta:2" and list(job.indices) == [3, 1]

    class Token:  # what the worker hands to a job
        def check(self):
            pass

        def cancelled(self):
            return False

        def progress(self, *args):
            pass

    from lrpgui import services

    paths = services.batch_export(job, Token())
    assert sorted(p.name for p in paths) == ["relevance_1.npy", "relevance_1.npy.json",
                                             "relevance_3.npy", "relevance_3.npy.json"]


def test_start_opens_asked_then_remembered_then_bundled_files(session, tmp_path):
    st = session.state
    gone = tmp_path / "deleted-model.npz"
    problems = session.open_initial(last_model=str(gone), last_dataset="no-such-dataset")
    # a remembered file that went away falls back quietly to the bundled model and data
    assert st.model_path == str(default_model_path()) and st.dataset_name == "mnist-test"
    assert [quiet for _exc, quiet in problems] == [True]
    fresh = Session(AppState())
    problems = fresh.open_initial(model=str(gone))
    assert fresh.state.model is None  # a file the user named is not replaced by another
    assert problems[0][0].title == "Cannot open model" and problems[0][1] is False


def test_remembered_settings_come_back_and_stale_ones_are_ignored(session):
    st = session.state
    st.rule, st.colormap, st.outline, st.target = "alphabeta:2", "gray-red2", False, "3"
    saved = session.remembered()
    assert saved == {"rule": "alphabeta:2", "colormap": "gray-red2", "outline": False,
                     "dtype": st.dtype, "target": "3", "settings_kind": "toolbox",
                     "other_kinds": "{}"}
    fresh = Session(AppState())
    # what QSettings gives back: strings, and values edited or gone stale since
    fresh.restore({**saved, "outline": "false"})
    assert fresh.remembered() == saved
    fresh.restore({"rule": "no-such-rule", "colormap": "no-such-map", "target": "-4",
                   "outline": "true"})
    assert fresh.state.rule == "alphabeta:2" and fresh.state.colormap == "gray-red2"
    assert fresh.state.target == "3" and fresh.state.outline is True


def test_a_folder_that_is_no_relevance_store_is_one_open_error(session, tmp_path):
    with pytest.raises(OpenError) as info:
        session.open_relevance_store(tmp_path)
    assert info.value.title == "Cannot open relevance store" and str(tmp_path) in str(info.value)

    class Store:
        model_path = str(default_model_path())

    assert session.needs_model(Store())
    session.open_model(default_model_path())
    assert not session.needs_model(Store())


def test_the_predictions_job_stops_within_one_small_batch(session):
    """Closing the window waits for the running batch; 2,000 LeNet-5 samples took over 10 s
    on a busy CPU and Qt aborted the process (QThread destroyed while running)."""
    from lrpcore.errors import Cancelled
    from lrpgui.services import Token
    from lrpgui.session import PREDICT_BATCH

    session.open_model(default_model_path())
    session.open_dataset("mnist-test")
    seen = []
    token = Token(lambda done, total, _p: (seen.append(done), token.cancel()))
    with pytest.raises(Cancelled):
        session.predict_job()(token)
    assert seen == [PREDICT_BATCH] and PREDICT_BATCH <= 500


def test_each_kind_of_model_starts_from_its_own_rule_and_dtype(session, tmp_path):
    """EfficientNet-Lite0 opened with epsilon:0.01 in float64: a near-empty heatmap and a slow
    first click. Graph models start from EpsilonPlus in float32, toolbox models keep
    epsilon:0.01 in float64; a choice made for one kind stays while models of that kind are
    opened, and comes back in the next run."""
    from colour_models import colour_graph_model

    st = session.state
    graph = tmp_path / "graph.npz"
    lrpcore.save_model(colour_graph_model(16), graph)
    session.open_model(default_model_path())
    assert (st.rule, st.dtype) == ("epsilon:0.01", "float64")
    session.open_model(graph)
    assert (st.rule, st.dtype) == ("EpsilonPlus", "float32")
    assert lrpcore.default_settings(st.model) == {"rule": "EpsilonPlus", "dtype": "float32"}
    st.rule, st.dtype = "EpsilonAlpha2Beta1", "float64"  # the user's choice for graph models
    session.open_model(graph)
    assert (st.rule, st.dtype) == ("EpsilonAlpha2Beta1", "float64")
    saved = session.remembered()
    session.open_model(default_model_path())
    assert (st.rule, st.dtype) == ("epsilon:0.01", "float64")
    fresh = Session(AppState())  # the next run, remembering the graph model's settings
    fresh.restore(saved)
    fresh.open_model(graph)
    assert (fresh.state.rule, fresh.state.dtype) == ("EpsilonAlpha2Beta1", "float64")
    old = Session(AppState())  # settings of a run that chose a toolbox rule
    old.restore({"rule": "alphabeta:2", "dtype": "float64"})
    old.open_model(graph)
    assert (old.state.rule, old.state.dtype) == ("EpsilonPlus", "float32")


def test_a_model_that_recommends_a_rule_starts_with_it(session, tmp_path):
    """EfficientNet-Lite0 opened with the app's default ε drew a near-white map (the README's
    photograph looked like nothing); a model naming its rule in its metadata starts with it
    (before its kind's default), and a rule the user chose for that kind stays."""
    from colour_models import colour_graph_model

    model = colour_graph_model(16)
    model.meta["recommended_rule"] = "EpsilonGammaBox"  # not the graph models' EpsilonPlus
    path = tmp_path / "rec.npz"
    lrpcore.save_model(model, path)
    st = session.state
    assert st.rule == "epsilon:0.01"  # the app's default
    session.open_model(path)
    assert st.rule == "EpsilonGammaBox" and "recommended" in st.status
    assert lrpcore.default_settings(st.model)["rule"] == "EpsilonGammaBox"
    st.rule = "alphabeta:2"  # the user's choice wins over a recommendation
    session.open_model(path)
    assert st.rule == "alphabeta:2"
    from lrpcore.io import imagenet

    if imagenet.available():
        assert lrpcore.load_model("efficientnet-lite0").meta["recommended_rule"] == "EpsilonPlus"


def test_a_model_for_other_data_asks_before_closing_the_dataset(session, tmp_path):
    """``close_unfitting(title, question)`` decides: False keeps everything (a Declined
    refusal), True closes the dataset and opens the model; no asker: a plain refusal."""
    from lrpcore.layers import Flatten, Linear
    from lrpcore.spec import InputSpec
    from lrpgui.session import Declined

    colour = lrpcore.Sequential([Flatten(), Linear(np.full((48, 2), 0.1), np.zeros(2))],
                                InputSpec(shape=(4, 4, 3), raw_shape=(4, 4, 3)))
    path = tmp_path / "colour.npz"
    lrpcore.save_model(colour, path)
    st = session.state
    session.open_model(default_model_path())
    session.open_dataset("mnist-sample")
    before = (st.model, st.dataset)
    asked = []
    with pytest.raises(Declined, match="Close dataset"):
        session.open_model(path, close_unfitting=lambda *q: asked.append(q) or False)
    assert (st.model, st.dataset) == before and "mnist-sample" in asked[0][1]
    with pytest.raises(OpenError) as info:
        session.open_model(path)
    assert not isinstance(info.value, Declined) and (st.model, st.dataset) == before
    session.open_model(path, close_unfitting=lambda *q: True)
    assert st.model_path == str(path) and st.dataset is None
    assert "natural-images" in session.missing()  # what fits a colour model
