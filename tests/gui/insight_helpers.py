"""Helpers of the insight GUI tests: open a tool and wait for its first result."""

from __future__ import annotations

import numpy as np


def open_tool(qtbot, window, name):
    """Show the tool's dock and wait until the panel has a result on display."""
    panel = window.insight.panels[name]
    window.insight.actions[name].trigger()
    qtbot.waitUntil(lambda: panel.last_error is not None or _shown(panel), timeout=20000)
    assert panel.last_error is None, panel.last_error
    return panel


def _shown(panel):
    return any(getattr(panel, a, None) is not None for a in ("result", "outcome"))


def rerun(qtbot, panel, action):
    """Do ``action`` and wait for the panel's next result."""
    with qtbot.waitSignal(panel.updated, timeout=20000):
        action()


def sample_raw(window, index=None):
    s = window.state
    i = s.sample_index if index is None else index
    return np.asarray(s.dataset.images(np.array([i])))


def predicted_class(window, index=None):
    import lrpcore

    return int(lrpcore.predict(window.state.model, sample_raw(window, index))[0].argmax())


def finite_difference_gradient(model, x, cls, h=1e-5):
    """d(analysis output[cls]) / dx of one model-layout input by central differences."""
    from lrpcore.explain import Explainer

    ex = Explainer(model, "numpy", "float64")
    flat = x.reshape(-1)
    eye = np.eye(flat.size) * h
    batch = np.concatenate([flat + eye, flat - eye]).reshape((2 * flat.size,) + x.shape)
    y = ex.forward(batch, raw=True).outputs()[:, cls]
    return ((y[:flat.size] - y[flat.size:]) / (2 * h)).reshape(x.shape)


def two_input_files(tmp_path):
    """(model, data) files of a 2-input, 2-class Tanh net in the XOR net's shape (scores below
    1) and six random input pairs: the explorer on a model that takes no image."""
    import lrpcore
    from lrpcore.layers import Linear, Tanh

    rng = np.random.default_rng(4)
    small = lrpcore.Sequential([Linear(rng.normal(0, 0.3, (2, 3)), np.zeros(3)), Tanh(),
                                Linear(rng.normal(0, 0.3, (3, 2)), np.zeros(2))])
    model, data = tmp_path / "xor.npz", tmp_path / "pairs.npy"
    lrpcore.save_model(small, model)
    np.save(data, rng.random((6, 2)))
    return model, data
