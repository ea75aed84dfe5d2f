"""The explorer explains a click with one BLAS thread (the GUI thread needs the other core)."""

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from lrpcore.explain import Explainer  # noqa: E402
from lrpgui.requests import ExplainRequest  # noqa: E402
from lrpgui.services import ExplainService  # noqa: E402


def _blas_threads():
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas"]


def test_a_click_is_explained_with_one_blas_thread(monkeypatch):
    import lrpcore

    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    seen = []
    forward = Explainer.forward

    def recording(self, x, raw=False):
        seen.append(_blas_threads())
        return forward(self, x, raw)

    monkeypatch.setattr(Explainer, "forward", recording)
    model = lrpcore.load_model("mnist-lenet5")
    req = ExplainRequest(model=model, raw=np.zeros((28, 28), dtype=np.uint8), index=0,
                         dataset_key="zeros", rule="epsilon:0.01")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        ExplainService().run(req)
        after = _blas_threads()
    assert seen and all(n == 1 for n in seen[0])
    assert all(n == 2 for n in after)  # restored afterwards


def test_a_click_on_a_photograph_leaves_the_other_core_to_the_gui(monkeypatch):
    """A graph model's single image would split its kernels over every core
    (lrpcore.parallel.all_cores); the explorer's worker keeps it on one."""
    from split_probe import record_splits

    from lrpcore import parallel
    from lrpcore.zoo import efficientnet_lite0

    model = efficientnet_lite0(None, size=96)  # large enough to split outside the GUI
    split_seen = record_splits(monkeypatch, model)
    raw = np.random.default_rng(0).integers(0, 255, size=(96, 96, 3), dtype=np.uint8)
    req = ExplainRequest(model=model, raw=raw, index=0, dataset_key="noise",
                         rule="EpsilonPlus")
    ExplainService().run(req)
    assert split_seen and not any(split_seen)
    if parallel._split_usable():  # outside the explorer the same pass splits
        Explainer(model).forward(raw[None])
        assert split_seen[-1]
