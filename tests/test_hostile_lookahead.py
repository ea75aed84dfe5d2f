"""The lookahead (rules' denominators prepared on a second core, lrpcore.lookahead) with
plug-in rules and with several photographs explained at once in threads."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from lrpcore import graph_explain, rules
from lrpcore.explain import Explainer
from lrpcore.lookahead import Lookahead
from lrpcore.rules import ZPlus
from lrpcore.zoo import efficientnet_lite0


@pytest.fixture(scope="module")
def photo():
    model = efficientnet_lite0(None, size=96)
    x = np.random.default_rng(0).uniform(-1, 1, size=(1,) + tuple(model.input_spec.shape))
    return model, x


@dataclass(frozen=True)
class _PluginZPlus(ZPlus):
    """A user's rule: ZPlus's arithmetic under its own name, its ``linear`` as the base
    class documents it (no ``prepared``)."""

    name: ClassVar[str] = "hostile-plugin-zplus"
    aliases: ClassVar[tuple[str, ...]] = ()

    def linear(self, layer, x, z, R, ctx):
        return super().linear(layer, x, z, R, ctx)


@pytest.fixture
def plugin_rule(monkeypatch):
    monkeypatch.setattr(rules, "RULES", dict(rules.RULES))
    rules.register_rule(_PluginZPlus)
    return _PluginZPlus.name


def test_a_plugin_subclass_without_prepared_explains_a_photograph(photo, plugin_rule,
                                                                  monkeypatch):
    model, x = photo
    monkeypatch.setattr(graph_explain, "LOOKAHEAD_MIN_BYTES", 0)  # as for a 224×224 photo
    fwd = Explainer(model, dtype="float64", threads=2).forward(x, raw=True)
    got = fwd.relevance(plugin_rule)
    want = fwd.relevance("zplus")
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()


def _helpers_end():
    """Waits for the lookahead's helper threads (each ends after the job it runs)."""
    for t in threading.enumerate():
        if t.name.startswith("lrp-ahead"):
            t.join(60)
    return [t.name for t in threading.enumerate() if t.name.startswith("lrp-ahead")]


def test_photographs_explained_at_once_in_threads_match_and_leave_the_process_as_it_was(
        photo, monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "blas"]

    model, x = photo
    xs = [x, -x, x[:, ::-1].copy()]
    ex = Explainer(model, dtype="float64", threads=2)
    monkeypatch.setattr(graph_explain, "LOOKAHEAD_MIN_BYTES", 1 << 62)
    want = [ex.forward(a, raw=True).relevance("EpsilonPlus") for a in xs]
    monkeypatch.setattr(graph_explain, "LOOKAHEAD_MIN_BYTES", 0)
    interval, threads = sys.getswitchinterval(), blas()
    used = []
    real_get = Lookahead.get
    monkeypatch.setattr(Lookahead, "get", lambda self, k: used.append(k) or real_get(self, k))
    start = threading.Barrier(len(xs))
    got, errors = [None] * len(xs), []

    def explain(i):
        try:
            start.wait(60)
            for _ in range(2):
                got[i] = ex.forward(xs[i], raw=True).relevance("EpsilonPlus")
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    workers = [threading.Thread(target=explain, args=(i,)) for i in range(len(xs))]
    for t in workers:
        t.start()
    for t in workers:
        t.join(300)
    assert errors == [] and used
    for a, b in zip(want, got, strict=True):
        assert np.abs(a - b).max() <= 1e-12 * np.abs(a).max()
    assert _helpers_end() == []
    assert sys.getswitchinterval() == pytest.approx(interval)
    assert blas() == threads


@dataclass(frozen=True)
class _Interrupted(ZPlus):
    """A rule whose third layer is interrupted (Ctrl+C while a photograph is explained)."""

    name: ClassVar[str] = "hostile-interrupted"
    aliases: ClassVar[tuple[str, ...]] = ()
    calls: ClassVar[list] = []

    def linear(self, layer, x, z, R, ctx, prepared=None):
        self.calls.append(1)
        if len(self.calls) == 3:
            raise KeyboardInterrupt
        return super().linear(layer, x, z, R, ctx, prepared=prepared)


def test_an_interrupt_mid_pass_ends_the_helper_and_restores_the_switch_interval(
        photo, monkeypatch):
    model, x = photo
    monkeypatch.setattr(rules, "RULES", dict(rules.RULES))
    rules.register_rule(_Interrupted)
    monkeypatch.setattr(graph_explain, "LOOKAHEAD_MIN_BYTES", 0)
    interval = sys.getswitchinterval()
    fwd = Explainer(model, dtype="float64", threads=2).forward(x, raw=True)
    _Interrupted.calls.clear()
    with pytest.raises(KeyboardInterrupt):
        fwd.relevance(_Interrupted.name)
    assert len(_Interrupted.calls) == 3
    assert sys.getswitchinterval() == pytest.approx(interval)
    assert _helpers_end() == []
    assert np.isfinite(fwd.relevance("zplus")).all()  # the next pass runs as usual


def test_no_thread_for_the_helper_means_a_sequential_pass_not_an_error(photo, monkeypatch):
    """A process limit (a container's pids.max, ulimit -u) or interpreter shutdown: the
    helper thread cannot start. The lookahead only saves time; the pass runs without it."""
    from lrpcore import lookahead

    class NoThreads:
        def __init__(self, *args, **kwargs):
            pass

        def submit(self, fn, *args):
            raise RuntimeError("can't start new thread")

        def shutdown(self, wait=True):
            pass

    model, x = photo
    fwd = Explainer(model, dtype="float64", threads=2).forward(x, raw=True)
    monkeypatch.setattr(graph_explain, "LOOKAHEAD_MIN_BYTES", 1 << 62)
    want = fwd.relevance("EpsilonPlus")
    monkeypatch.setattr(graph_explain, "LOOKAHEAD_MIN_BYTES", 0)
    monkeypatch.setattr(lookahead, "ThreadPoolExecutor", NoThreads)
    interval = sys.getswitchinterval()
    got = fwd.relevance("EpsilonPlus")
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()
    assert sys.getswitchinterval() == pytest.approx(interval)
