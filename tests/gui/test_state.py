"""AppState and the headless services: no Qt needed."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import RuleError, ShapeError
from lrpgui.services import (
    Cancelled,
    ExplainRequest,
    ExplainService,
    Token,
    accuracy,
    predict_dataset,
)
from lrpgui.sources import open_dataset
from lrpgui.state import AppState

from .conftest import toy_model


def test_events_fire_only_on_real_change():
    state = AppState()
    seen = []
    state.events.rule.connect(seen.append)
    state.events.changed.connect(lambda name, value: seen.append(name))
    state.rule = state.rule
    state.rule = "epsilon:0.1"
    state.rule = "epsilon:0.1"
    state.rule = "epsilonplus"  # presets are found case-insensitively, stored by their name
    assert seen == ["epsilon:0.1", "rule", "EpsilonPlus", "rule"]


def test_array_fields_compare_by_value():
    state = AppState()
    seen = []
    state.events.relevance.connect(seen.append)
    state.relevance = np.ones((2, 2))
    state.relevance = np.ones((2, 2))
    state.relevance = np.zeros((2, 2))
    assert len(seen) == 2


def test_validation_at_assignment(toy_files):
    state = AppState()
    with pytest.raises(RuleError):
        state.rule = "epsilon:-1"
    with pytest.raises(RuleError):
        state.layer_rules = {0: "EpsilonPlus"}
    with pytest.raises(RuleError):
        state.target = "banana"
    with pytest.raises(TypeError):
        state.sample_index = "3"
    state.dataset = open_dataset(toy_files[1])
    with pytest.raises(ShapeError, match="0..119"):
        state.sample_index = 120
    assert state.rule == "epsilon:0.01" and state.sample_index == 0


def test_batch_emits_once_and_only_for_net_changes():
    state = AppState()
    seen = []
    state.events.changed.connect(lambda name, value: seen.append((name, value)))
    with state.batch():
        state.target = "true"
        state.target = "pred"  # back to the start: no event
        state.colormap = "jet"
        state.colormap = "seismic"
    assert seen == [("colormap", "seismic")]


def _request(model, raw, index=0, rule="epsilon:0.01", target="pred", layer_rules=()):
    return ExplainRequest(model=model, dataset_key=1, index=index, raw=raw, label=3, rule=rule,
                          layer_rules=layer_rules, target=target, backend="numpy",
                          dtype="float64")


def test_service_matches_explain_and_reuses_the_forward_pass(toy_files):
    model = toy_model()
    raw = open_dataset(toy_files[1]).images([5])
    service = ExplainService()
    first = service.run(_request(model, raw[0], index=5))
    second = service.run(_request(model, raw[0], index=5, rule="alphabeta:2", target="7",
                                  layer_rules=((0, "flat"),)))
    assert not first.forward_reused and second.forward_reused
    want = lrpcore.explain(model, raw, rule="alphabeta:2", target=7, layer_rules={0: "flat"})
    np.testing.assert_allclose(second.relevance, want[0], rtol=1e-12, atol=1e-15)
    assert second.explained_output == pytest.approx(second.scores[7])
    assert first.prediction == int(np.argmax(lrpcore.predict(model, raw)[0]))


def test_predict_dataset_reports_progress_and_cancels(toy_files):
    model = toy_model()
    ds = open_dataset(toy_files[1])
    steps = []
    preds = predict_dataset(model, ds, Token(lambda d, t, p: steps.append((d, t))), batch=50)
    assert steps == [(50, 120), (100, 120), (120, 120)]
    want = lrpcore.predict(model, ds.images(np.arange(120))).argmax(axis=1)
    np.testing.assert_array_equal(preds, want)
    assert accuracy(preds, ds.labels) == pytest.approx(np.mean(want == ds.labels))
    token = Token(lambda d, t, p: token.cancel())
    with pytest.raises(Cancelled):
        predict_dataset(model, ds, token, batch=50)


def test_token_is_thread_safe_to_cancel():
    token = Token()
    t = threading.Thread(target=token.cancel)
    t.start()
    t.join()
    assert token.cancelled()
    with pytest.raises(Cancelled):
        token.check()


def test_state_and_services_do_not_import_qt():
    import subprocess
    import sys

    code = ("import sys, lrpgui.state, lrpgui.services, lrpgui.evented; "
            "print(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_a_failing_listener_does_not_keep_the_event_from_the_others():
    state = AppState()
    seen = []

    def broken(value):
        raise RuntimeError("listener bug")

    state.events.colormap.connect(broken)
    state.events.colormap.connect(seen.append)
    with pytest.raises(RuntimeError, match="listener bug"):
        state.colormap = "gray-red"
    assert seen == ["gray-red"] and state.colormap == "gray-red"


def test_one_request_type_for_explain_service_insight_tools_and_batch_export(toy_files):
    """The explain service, the insight tools and the batch export take the same frozen
    request (three classes before)."""
    from lrpgui import services
    from lrpgui.insight import worker_tasks
    from lrpgui.requests import ExplainRequest as OneRequest

    assert services.ExplainRequest is OneRequest and worker_tasks.ExplainRequest is OneRequest
    assert services.BatchExport.__dataclass_fields__["request"].type in (OneRequest,
                                                                         "ExplainRequest")
    from lrpgui.state import AppState

    state = AppState()
    state.model = toy_model()
    state.dataset = open_dataset(toy_files[1])
    state.sample_index = 4
    state.target = "3"
    req = OneRequest.from_state(state)
    assert req.index == 4 and req.label == int(state.labels[4]) and req.target_value == 3
    assert worker_tasks.request_from_state(state).raw.shape == req.raw.shape


def test_photographs_are_predicted_in_passes_of_bounded_memory(monkeypatch):
    """500 photographs went through EfficientNet in one pass (gigabytes of activations, and
    closing the window waited for all of it): a pass holds at most PASS_BYTES, as the
    engine's own passes do; the predictions are those of one whole batch."""
    from lrpcore.explain import Explainer
    from lrpcore.parallel import PASS_BYTES
    from lrpcore.zoo import efficientnet_lite0

    model = efficientnet_lite0(None, size=64)
    images = np.random.default_rng(0).integers(0, 256, (40, 64, 64, 3)).astype(np.uint8)

    class Photos:
        labels = None

        def __len__(self):
            return len(images)

        def images(self, idx):
            return images[np.asarray(idx)]

    sizes = []
    forward = type(model).forward

    def recording(self, x, *args, **kwargs):
        sizes.append(len(x))
        return forward(self, x, *args, **kwargs)

    monkeypatch.setattr(type(model), "forward", recording)
    preds = predict_dataset(model, Photos(), Token(), batch=500, dtype="float32")
    ex = Explainer(model, "numpy", "float32")
    per_sample = ex.sample_bytes(ex.prepare(images[:1]).shape[1:])
    assert 1 < len(sizes) and max(sizes) * per_sample <= PASS_BYTES
    assert sum(sizes) == len(images)
    monkeypatch.undo()
    want = lrpcore.predict(model, images).argmax(axis=1)
    np.testing.assert_array_equal(preds, want)
