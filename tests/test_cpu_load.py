"""Passes leave the cores other processes use (lrpcore.cpu_load): a pass split over busy cores
waited a scheduler slice at every step (one photograph 3–6 s instead of 0.2–0.3 on one core)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from lrpcore import cpu_load, parallel
from lrpcore.cpu_load import CpuShare


class FakeMachine:
    """A clock, /proc/stat's busy seconds on our cores, our own CPU seconds, runnable threads."""

    def __init__(self, runnable=1, own_runnable=1):
        self.now, self.busy_s, self.own_s = 100.0, 50.0, 10.0
        self.runnable, self.own_runnable = runnable, own_runnable

    def share(self):
        return CpuShare(clock=lambda: self.now, busy=lambda cpus: self.busy_s,
                        own=lambda: self.own_s, runnable=lambda: self.runnable,
                        own_runnable=lambda: self.own_runnable)

    def run(self, seconds, others, own):
        """``seconds`` pass with ``others`` cores busy with other work and ``own`` with ours."""
        self.now += seconds
        self.busy_s += seconds * (others + own)
        self.own_s += seconds * own


def test_others_use_is_the_busy_time_less_our_own_over_a_window():
    m = FakeMachine(runnable=5, own_runnable=3)
    share = m.share()
    assert share.others({0, 1}) == 2.0  # no window yet: runnable threads less our own
    m.run(0.1, others=1.5, own=2.0)
    assert share.others({0, 1}) == 2.0  # within SAMPLE_SECONDS: the last estimate
    m.run(0.4, others=1.5, own=2.0)
    assert share.others({0, 1}) == pytest.approx(1.5 * 0.5 / 0.5)
    m.run(1.0, others=0.0, own=2.0)  # our own threads (spinning after a pass) are not others
    assert share.others({0, 1}) == pytest.approx(0.0)


def test_unknown_machine_counts_every_core_free():
    share = CpuShare(busy=lambda cpus: None)
    assert share.others({0, 1}) == 0.0


def test_busy_seconds_reads_only_our_cpus(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  900 0 900 9000 0 0 0 0 0 0\n"
                    "cpu0 100 10 20 5000 70 1 2 3 0 0\n"
                    "cpu1 400 0 100 4000 0 0 0 0 0 0\n"
                    "cpu12 7 0 0 0 0 0 0 0 0 0\n"
                    "intr 12345\n", encoding="ascii")
    ticks = cpu_load._CLOCK_TICKS
    assert cpu_load._busy_seconds({0}, stat) == pytest.approx((100 + 10 + 20 + 1 + 2 + 3) / ticks)
    assert cpu_load._busy_seconds({1, 12}, stat) == pytest.approx(507 / ticks)
    # a container that numbers its CPUs anew: none of ours is listed, so all of them count
    assert cpu_load._busy_seconds({40, 41}, stat) == pytest.approx((136 + 500 + 7) / ticks)
    assert cpu_load._busy_seconds({0}, tmp_path / "missing") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_this_machine_is_read():
    cpus = cpu_load.cpu_set()
    first = cpu_load._busy_seconds(cpus)
    assert first is not None and first > 0
    assert cpu_load._runnable_now() >= 1  # this very thread
    assert cpu_load._own_runnable() >= 1


def test_own_runnable_threads_are_counted(tmp_path):
    for tid, state in [(11, "R"), (12, "S"), (13, "R"), (14, "D")]:
        (tmp_path / str(tid)).mkdir()
        (tmp_path / str(tid) / "stat").write_text(f"{tid} (odd) name) {state} 1 2 3\n")
    (tmp_path / "15").mkdir()  # a thread that ended while being read
    assert cpu_load._own_runnable(tmp_path) == 2


def test_usable_cores_leaves_the_busy_ones(monkeypatch):
    monkeypatch.delenv("LRP_IGNORE_CPU_LOAD", raising=False)
    monkeypatch.setattr(cpu_load, "cpu_set", lambda: {0, 1, 2, 3})
    for others, usable in [(0.0, 4), (0.4, 4), (0.6, 3), (2.7, 1), (9.0, 1)]:
        monkeypatch.setattr(cpu_load._share, "others", lambda cpus, o=others: o)
        monkeypatch.setattr(cpu_load, "_answer", (0.0, 1))  # asked afresh
        assert cpu_load.usable_cores() == usable, others
        monkeypatch.setattr(cpu_load._share, "others", lambda cpus: 99.0)
        assert cpu_load.usable_cores() == usable  # the same answer for SAMPLE_SECONDS
    monkeypatch.setenv("LRP_IGNORE_CPU_LOAD", "1")
    monkeypatch.setattr(cpu_load, "_answer", (0.0, 1))
    assert cpu_load.usable_cores() == 4


def _seen_inside(monkeypatch, usable, split):
    """(kernels split, one core) inside a single-item run while ``usable`` cores are free."""
    monkeypatch.setattr(parallel, "usable_cores", lambda: usable)
    return parallel.run_sharded(
        lambda _: (parallel.kernels_split(), parallel._local.one_core), [0], split=split)[0]


@pytest.mark.skipif(parallel.cpu_count() < 2, reason="needs two cores")
def test_a_single_pass_stays_on_one_core_while_others_hold_cores(monkeypatch):
    cores = parallel.cpu_count()
    assert _seen_inside(monkeypatch, 1, split=cores) == (False, True)
    assert _seen_inside(monkeypatch, cores - 1, split=1) == (False, True)  # BLAS at one too
    assert _seen_inside(monkeypatch, cores, split=1) == (False, False)
    if parallel._split_usable():
        assert _seen_inside(monkeypatch, cores, split=cores) == (True, False)


@pytest.mark.skipif(parallel.cpu_count() < 2, reason="needs two cores")
def test_a_busy_machine_explains_the_same_relevance(monkeypatch):
    from lrpcore.bench import BENCH_MODELS
    from lrpcore.explain import Explainer, resolve_rules

    model = BENCH_MODELS["resnet"]()
    x = np.random.default_rng(3).uniform(0, 1, size=(1,) + tuple(model.input_spec.shape))
    ex = Explainer(model)
    config = resolve_rules(ex.layers, "EpsilonPlus")
    idle = ex.forward(x, raw=True).relevance(config, "pred")
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    busy = ex.forward(x, raw=True).relevance(config, "pred")
    np.testing.assert_allclose(busy, idle, rtol=0, atol=1e-12 * np.abs(idle).max())


@pytest.mark.parametrize("usable, noted", [(1, True), (None, False)])
def test_bench_says_when_other_processes_hold_cores(monkeypatch, capsys, usable, noted):
    from lrpcore.cli.main import main

    monkeypatch.setattr(cpu_load, "usable_cores",
                        lambda: parallel.cpu_count() if usable is None else usable)
    if noted and parallel.cpu_count() < 2:
        pytest.skip("needs two cores")
    assert main(["bench", "--models", "lenet5", "--batch-sizes", "1", "--dtypes", "float32",
                 "--backend", "numpy", "--repeat", "1"]) == 0
    err = capsys.readouterr().err
    assert ("other processes are using about" in err) == noted
