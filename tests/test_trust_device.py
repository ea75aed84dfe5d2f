"""The trust tools on the cupy code path, run on the strict CPU stand-in (``fake_device``):
a host array meeting a device array fails there as it would on a GPU."""

from __future__ import annotations

import numpy as np
from fake_device import FAKE_GPU

from lrpcore.bench import lenet5
from lrpcore.explain import Explainer
from lrpcore.insight.diagnose import diagnose
from lrpcore.insight.sanity import cascading_randomisation
from lrpcore.insight.sweep import run_sweep


def _x(n=4):
    return np.random.default_rng(5).uniform(-1, 1, (n, 32, 32, 1))


def test_diagnosis_on_the_device_path():
    model, x = lenet5(), _x()
    want = diagnose(Explainer(model, "numpy").forward(x, raw=True), "alphabeta:2")
    got = diagnose(Explainer(model, FAKE_GPU).forward(x, raw=True), "alphabeta:2")
    assert [f.layer for f in got.findings] == [f.layer for f in want.findings]
    assert got.total_ratio == want.total_ratio or np.isclose(got.total_ratio, want.total_ratio)


def test_sweep_on_the_device_path_equals_numpy():
    model, x = lenet5(), _x()
    kw = {"raw": True, "steps": 5, "dtype": "float64", "params": {"alpha": [1, 2]}}
    want = run_sweep(model, x, "alphabeta:2", backend="numpy", **kw)
    got = run_sweep(model, x, "alphabeta:2", backend=FAKE_GPU, **kw)
    assert [r.label for r in got.rows] == [r.label for r in want.rows]
    np.testing.assert_allclose([r.score for r in got.rows], [r.score for r in want.rows],
                               rtol=1e-9)


def test_sanity_on_the_device_path_equals_numpy():
    model, x = lenet5(), _x()
    want = cascading_randomisation(model, x, "epsilon:0.01", raw=True, backend="numpy",
                                   dtype="float64")
    got = cascading_randomisation(model, x, "epsilon:0.01", raw=True, backend=FAKE_GPU,
                                  dtype="float64")
    for a, b in zip(want.steps, got.steps, strict=True):
        np.testing.assert_allclose(b.spearman, a.spearman, rtol=1e-9, atol=1e-12)
