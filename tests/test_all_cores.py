"""One photograph on all the cores (lrpcore.parallel.all_cores): its compiled kernels split by
rows and its large products split into BLAS calls at one thread each. Splitting may change no
kernel's bits, products only in the last digits, and never leaves BLAS or numba changed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from blas_probe import blas_threads
from split_probe import record_splits

from lrpcore import cpu_kernels, kernels, parallel
from lrpcore.explain import Explainer, resolve_rules
from lrpcore.parallel import all_cores, kernels_split, one_core
from lrpcore.zoo import efficientnet_lite0

threadpoolctl = pytest.importorskip("threadpoolctl")
numba = pytest.importorskip("numba")

pytestmark = pytest.mark.skipif(not parallel._split_usable(),
                                reason="numba cannot split kernels here (one core, or no "
                                       "OpenMP/TBB threading layer)")

DTYPES = (np.float32, np.float64)


def _both_ways(fn):
    """fn() on the calling thread and inside a pass that holds all the cores."""
    plain = fn()
    with all_cores():
        assert kernels_split()
        split = fn()
    return plain, split


def _equal(a, b):
    if isinstance(a, tuple):
        return all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b


@pytest.mark.parametrize("dtype", DTYPES)
def test_split_kernels_give_the_bits_of_the_serial_ones(dtype):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 37, 41, 24)).astype(dtype)  # rows that do not divide evenly
    w = rng.normal(size=(3, 3, 24)).astype(dtype)
    bias = rng.normal(size=24).astype(dtype)
    y = cpu_kernels.depthwise(x, w, 2, 1)
    g = rng.normal(size=y.shape).astype(dtype)
    z = rng.normal(size=(300, 17)).astype(dtype)
    z[::7] = 0
    magnitude = np.abs(z) + rng.uniform(0, 1, size=z.shape).astype(dtype)
    calls = {
        "depthwise": lambda: cpu_kernels.depthwise(x, w, 2, 1, bias=bias),
        "transpose": lambda: cpu_kernels.depthwise_transpose(g, w, x.shape[1:], 2, 1, times=x),
        "epsilon share": lambda: cpu_kernels.epsilon_share(x, x - 0.5, 1e-6, divisor=3.0),
        "clip": lambda: cpu_kernels.clip(x, 0, 6),
        "pad": lambda: cpu_kernels.pad(x, (1, 2, 0, 3), 0.5),
        "positive half": lambda: cpu_kernels.positive_half(z, bias[:17], bias[:17] ** 2,
                                                           magnitude, 2.0 ** -20),
        "add channels": lambda: cpu_kernels.add_channels(x.copy(), bias),
        "add into": lambda: cpu_kernels.add_into(x.copy(), np.sin(x)),
        "has negative": lambda: (cpu_kernels.has_negative(x), cpu_kernels.has_negative(x * x)),
        "windows": lambda: cpu_kernels.windows(x, 3, 2, 2, 1),
        "add windows": lambda: cpu_kernels.add_windows(
            cpu_kernels.windows(x, 3, 2, 2, 1), x.shape[1:], 3, 2, 2, 1, times=x),
    }
    for name, call in calls.items():
        plain, split = _both_ways(call)
        assert _equal(plain, split), name
    assert _equal(calls["has negative"](), (True, False))


def test_a_kernel_runs_split_inside_the_pass_and_serial_outside(monkeypatch):
    calls = []
    kernel = cpu_kernels._clip
    for way in ("serial", "split"):
        compiled = getattr(kernel, way)
        monkeypatch.setattr(kernel, way, lambda *a, way=way, f=compiled: (calls.append(way),
                                                                          f(*a))[1])
    x = np.random.default_rng(0).normal(size=(1, 20, 20, 8))
    with all_cores():
        inside = cpu_kernels.clip(x, 0, 1)
    outside = cpu_kernels.clip(x, 0, 1)
    assert calls == ["split", "serial"]
    assert np.array_equal(inside, outside)


def test_split_kernels_are_cached_apart_from_serial_ones(tmp_path):
    """numba's disk cache files a kernel by name and signature: the split kernel needs its
    own name, or one process's serial kernel is what the next one loads for the split."""
    code = ("import numpy as np\n"
            "from lrpcore import cpu_kernels\n"
            "from lrpcore.parallel import all_cores\n"
            "x = np.ones((1, 30, 30, 4))\n"
            "cpu_kernels.clip(x, 0, 1)\n"
            "with all_cores():\n"
            "    cpu_kernels.clip(x, 0, 1)\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    names = [p.name for p in Path(tmp_path).rglob("*.nbi")]
    assert any("_clip_split" in n for n in names), names
    assert any("_clip-" in n for n in names), names


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("m", "k", "n"), [(300, 40, 70), (49, 192, 1152), (1, 1280, 1000),
                                           (3, 7, 9)])
def test_split_products_equal_numpys(monkeypatch, dtype, m, k, n):
    rng = np.random.default_rng(m + k + n)
    a = rng.normal(size=(m, k)).astype(dtype)
    b = rng.normal(size=(k, n)).astype(dtype)
    wt = np.ascontiguousarray(b.T)  # b as the transpose of a C array (a layer's tmap)
    bias = rng.normal(size=n).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-5 * np.sqrt(k)) if dtype == np.float32 else \
        dict(rtol=1e-12, atol=1e-12 * np.sqrt(k))
    assert np.array_equal(cpu_kernels.matmul(a, b), a @ b)  # outside a pass: numpy's product
    split_calls = []
    real = cpu_kernels._split_gemm
    monkeypatch.setattr(cpu_kernels, "_split_gemm",
                        lambda *args: (split_calls.append(args[-2:]), real(*args))[1])
    with all_cores():
        for got, want in [(cpu_kernels.matmul(a, b), a @ b),
                          (cpu_kernels.matmul(a, wt.T), a @ b),
                          (cpu_kernels.matmul(a, b, bias), a @ b + bias),
                          (kernels.product(a, wt.T, np, bias), a @ b + bias),
                          (cpu_kernels.matmul(a[:, ::-1], b[::-1]), a @ b)]:
            assert got.shape == (m, n) and got.dtype == dtype
            np.testing.assert_allclose(got, want, **tol)
    large = m * k * n >= cpu_kernels.SPLIT_MACS
    assert len(split_calls) == (5 if large else 0)  # small products stay numpy's
    if large:  # by rows where there are enough of them, else by columns
        assert all(by_rows == (m >= cpu_kernels.ROWS_PER_PART * parts)
                   for by_rows, parts in split_calls)


def test_a_pass_on_all_cores_limits_blas_and_restores_everything():
    if not blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    numba_threads = numba.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        with all_cores(2):
            assert kernels_split()
            assert all(t == 1 for t in blas_threads())
            assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
            with all_cores():  # nested: still the same pass
                assert kernels_split()
            assert kernels_split()
        assert not kernels_split()
        assert all(t == 2 for t in blas_threads())
    assert numba.get_num_threads() == numba_threads


def test_one_pass_at_a_time_splits_and_one_core_forbids_it():
    seen = {}
    holding, done = threading.Event(), threading.Event()

    def other_thread():
        holding.wait(60)
        with all_cores():
            seen["other"] = kernels_split()
        done.set()

    t = threading.Thread(target=other_thread)
    t.start()
    with all_cores():
        seen["first"] = kernels_split()
        holding.set()
        done.wait(60)
    t.join(60)
    assert seen == {"first": True, "other": False}
    with one_core(), all_cores():
        assert not kernels_split()
    with all_cores(1):
        assert not kernels_split()
    with all_cores():  # the lock was released
        assert kernels_split()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_photograph_on_all_cores_explains_as_on_one(monkeypatch, dtype):
    model = efficientnet_lite0(None, size=96)  # over MIN_SHARD_BYTES of tensors: it splits
    x = np.random.default_rng(2).uniform(-1, 1, size=(1,) + tuple(model.input_spec.shape))
    runs = []
    real_matmul = cpu_kernels.matmul

    def spy(a, b, bias=None):
        runs.append(kernels_split())
        return real_matmul(a, b, bias)

    monkeypatch.setattr(cpu_kernels, "matmul", spy)
    results = {}
    for threads in (1, 2):
        ex = Explainer(model, threads=threads, dtype=dtype)
        cfg = resolve_rules(ex.layers, "EpsilonPlus")
        results[threads] = ex.forward(x, raw=True).relevance(cfg, "pred")
    assert runs and all(runs)  # with two threads the products ran split, and only then
    one, two = results[1], results[2]
    tol = 1e-10 if dtype == "float64" else 1e-4
    assert np.abs(one - two).max() <= tol * np.abs(one).max()


def test_a_small_pass_stays_on_one_core(monkeypatch):
    """A digit's pass is too small to split: handing its kernels over costs more."""
    from lrpcore.zoo import mnist_resnet

    model = mnist_resnet()
    seen = record_splits(monkeypatch, model)
    x = np.random.default_rng(0).uniform(0, 1, size=(1,) + tuple(model.input_spec.shape))
    Explainer(model, threads=2).forward(x, raw=True)
    assert seen == [False]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
def test_a_forked_child_explains_on_one_core_after_its_parent_split(tmp_path):
    """GNU OpenMP's threads do not survive fork(): numba ends a forked child that launches a
    parallel kernel after its parent did (multiprocessing's default on Linux). The child's
    pass must run, on one core."""
    code = ("import os, numpy as np\n"
            "from lrpcore import cpu_kernels\n"
            "from lrpcore.parallel import all_cores, kernels_split\n"
            "x = np.random.default_rng(0).normal(size=(1, 40, 40, 8))\n"
            "with all_cores():\n"
            "    want = cpu_kernels.clip(x, 0, 1)\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    with all_cores():\n"
            "        ok = not kernels_split() and np.array_equal(cpu_kernels.clip(x, 0, 1), want)\n"
            "    os._exit(0 if ok else 3)\n"
            "_, status = os.waitpid(pid, 0)\n"
            "print(os.waitstatus_to_exitcode(status))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0", done.stderr
