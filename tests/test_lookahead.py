"""Rules' denominators prepared ahead on a second core (lrpcore.lookahead): the window moves
in order and stays bounded, errors surface where the work is taken, and a photograph's
relevance is that of the sequential pass."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from lrpcore import graph_explain, lookahead
from lrpcore.errors import RuleError
from lrpcore.explain import Explainer
from lrpcore.lookahead import Lookahead
from lrpcore.rules import ZPlus
from lrpcore.zoo import efficientnet_lite0


def _running(jobs, prepare, job_bytes=lambda k: 1):
    return Lookahead(jobs, prepare, job_bytes)


def test_prepared_results_come_back_in_order_and_unknown_keys_get_none():
    with _running([5, 3, 1], lambda k: k * 10) as ahead:
        assert ahead.get(7) is None
        assert [ahead.get(k) for k in (5, 3, 1)] == [50, 30, 10]


def test_the_window_is_bounded_by_jobs_and_by_bytes(monkeypatch):
    monkeypatch.setattr(lookahead, "LOOKAHEAD_JOBS", 2)
    with _running(range(6), lambda k: k) as ahead:
        assert ahead.waiting() == [0, 1]
        ahead.get(0)
        assert ahead.waiting() == [1, 2]
    monkeypatch.setattr(lookahead, "LOOKAHEAD_JOBS", 10)
    monkeypatch.setattr(lookahead, "LOOKAHEAD_BYTES", 100)
    with _running(range(6), lambda k: k, job_bytes=lambda k: 40) as ahead:
        assert ahead.waiting() == [0, 1]  # a third would hold 120 bytes
    with _running(range(3), lambda k: k, job_bytes=lambda k: 1000) as ahead:
        assert ahead.waiting() == [0]  # one job always runs, however large


def test_passed_over_jobs_are_dropped_and_the_window_moves_on(monkeypatch):
    monkeypatch.setattr(lookahead, "LOOKAHEAD_JOBS", 2)
    with _running(range(8), lambda k: k) as ahead:
        assert ahead.get(1) == 1  # 0 was passed over (no relevance reached it)
        assert ahead.waiting() == [2, 3]
        assert ahead.get(6) is None  # beyond the window: the caller prepares it itself
        assert ahead.waiting() == [7]


def test_an_error_in_preparing_is_raised_where_the_result_is_taken():
    def prepare(k):
        if k == 2:
            raise RuleError("no way")
        return k

    with _running([3, 2, 1], prepare) as ahead:
        assert ahead.get(3) == 3
        with pytest.raises(RuleError, match="no way"):
            ahead.get(2)


def test_threads_switch_often_while_a_lookahead_runs_and_as_before_after():
    before = sys.getswitchinterval()
    release = threading.Event()
    first = _running([0], lambda k: release.wait(10))
    second = _running([0], lambda k: k)
    assert sys.getswitchinterval() == pytest.approx(min(before, lookahead.SWITCH_INTERVAL_S))
    first.close()
    assert sys.getswitchinterval() == pytest.approx(min(before, lookahead.SWITCH_INTERVAL_S))
    second.close()
    release.set()
    assert sys.getswitchinterval() == pytest.approx(before)


@pytest.fixture(scope="module")
def photo_model():
    return efficientnet_lite0(None, size=96)


def _relevance(model, dtype, monkeypatch, ahead):
    monkeypatch.setattr(graph_explain, "LOOKAHEAD_MIN_BYTES", 0 if ahead else 1 << 62)
    x = np.random.default_rng(0).uniform(-1, 1, size=(1,) + tuple(model.input_spec.shape))
    return Explainer(model, dtype=dtype, threads=2).forward(x, raw=True).relevance(
        "EpsilonPlus", trace=True)


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-12), ("float32", 1e-4)])
def test_a_photograph_explained_with_lookahead_equals_the_sequential_pass(
        photo_model, dtype, tolerance, monkeypatch):
    taken = []
    real_get = Lookahead.get
    monkeypatch.setattr(Lookahead, "get", lambda self, k: taken.append(
        real := real_get(self, k)) or real)
    R1, trace1 = _relevance(photo_model, dtype, monkeypatch, ahead=False)
    assert taken == []
    R2, trace2 = _relevance(photo_model, dtype, monkeypatch, ahead=True)
    assert sum(t is not None for t in taken) >= 30  # every z⁺ layer was prepared ahead
    scale = np.abs(R1).max()
    assert np.abs(R1 - R2).max() <= tolerance * scale
    for a, b in zip(trace1, trace2, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert np.abs(a - b).max() <= tolerance * np.abs(a).max() + 1e-30


def test_an_error_while_preparing_names_the_node(photo_model, monkeypatch):
    def broken(self, layer, x, z, ctx):
        raise RuleError("cannot prepare")

    monkeypatch.setattr(ZPlus, "prepare", broken)
    with pytest.raises(RuleError, match=r"node \d+ .*cannot prepare"):
        _relevance(photo_model, "float64", monkeypatch, ahead=True)


def test_a_prepared_layer_does_not_recompute_its_padded_input_again(photo_model, monkeypatch):
    from lrpcore.layers import Pad

    counts = []
    real = Pad.forward

    def counted(self, x, xp):
        counts[-1] += 1
        return real(self, x, xp)

    x = np.random.default_rng(0).uniform(-1, 1, size=(1,) + tuple(photo_model.input_spec.shape))
    fwd = Explainer(photo_model, threads=2).forward(x, raw=True)
    monkeypatch.setattr(Pad, "forward", counted)
    for ahead in (False, True):
        monkeypatch.setattr(graph_explain, "LOOKAHEAD_MIN_BYTES", 0 if ahead else 1 << 62)
        counts.append(0)
        fwd.relevance("EpsilonPlus")
    assert counts[0] > 0 and counts[1] == counts[0]


def test_a_failure_while_starting_leaves_the_switch_interval_as_it_was():
    before = sys.getswitchinterval()

    def job_bytes(k):
        raise MemoryError("cannot size the job")

    with pytest.raises(MemoryError):
        Lookahead([1, 2], lambda k: k, job_bytes)
    assert sys.getswitchinterval() == pytest.approx(before)


def test_a_pass_started_inside_a_prepared_job_does_not_wait_for_itself(photo_model,
                                                                      monkeypatch):
    """A plug-in rule whose preparation explains something itself: the inner pass runs
    without a lookahead instead of waiting for the helper thread it occupies."""
    monkeypatch.setattr(graph_explain, "LOOKAHEAD_MIN_BYTES", 0)
    x = np.random.default_rng(0).uniform(-1, 1, size=(1,) + tuple(photo_model.input_spec.shape))
    inner = Explainer(photo_model, threads=2).forward(x, raw=True)
    real = ZPlus.prepare
    nested, started = [], []

    def prepare(self, layer, x_, z, ctx):
        if not started:
            started.append(True)
            nested.append(inner.relevance("EpsilonPlus"))
        return real(self, layer, x_, z, ctx)

    monkeypatch.setattr(ZPlus, "prepare", prepare)
    done = threading.Event()
    result = []

    def run():
        result.append(inner.relevance("EpsilonPlus"))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(120), "the pass waited for itself"
    assert np.allclose(result[0], nested[0], rtol=1e-10, atol=1e-12 * np.abs(nested[0]).max())
