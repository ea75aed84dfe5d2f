"""Speed benchmark of the engine: forward and LRP times, throughput, memory, and the floor.

The *arithmetic floor* is the model's multiply-adds for one forward plus one backward pass,
divided by the matrix-multiply rate numpy (or cupy) reaches on this machine in the same run:
no implementation of the ε-rule can beat it by much, so "×floor" says how close we are.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from .backend import get_backend, get_dtype
from .errors import ModelFormatError, ShapeError
from .explain import Explainer, resolve_rules
from .layers import Convolution, Flatten, Linear, Rect, SumPool
from .model import Sequential
from .text import closest_name
from .zoo import efficientnet_lite0, mnist_resnet

DEFAULT_RULES = ("epsilon:0.01", "alphabeta:2", "EpsilonPlus", "EpsilonGammaBox")


def lenet5(seed=0) -> Sequential:
    """The LRP Toolbox's LeNet-5 architecture with random weights (speed depends on shape only)."""
    rng = np.random.default_rng(seed)

    def conv(h, w, d, n):
        return Convolution(rng.normal(size=(h, w, d, n)) / np.sqrt(h * w * d),
                           -np.abs(rng.normal(size=n)) * 0.01)

    return Sequential([conv(5, 5, 1, 10), Rect(), SumPool(), conv(5, 5, 10, 25), Rect(),
                       SumPool(), conv(4, 4, 25, 100), Rect(), SumPool(), conv(1, 1, 100, 10),
                       Flatten()])


def long_rect(seed=0) -> Sequential:
    """The toolbox's "long-rect" shape, 784-1296-1296-1296-10 ReLU, random weights."""
    rng = np.random.default_rng(seed)
    sizes = [784, 1296, 1296, 1296, 10]
    layers = []
    for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(Linear(rng.normal(size=(m, n)) / np.sqrt(m), rng.normal(size=n) * 0.01))
        if i < len(sizes) - 2:
            layers.append(Rect())
    return Sequential(layers)


# graph models: the shapes of the shared MNIST ResNet and of EfficientNet-Lite0 (lrpcore.zoo)
BENCH_MODELS = {"lenet5": lenet5, "long-rect": long_rect, "resnet": mnist_resnet,
                "efficientnet-lite0": efficientnet_lite0}


def bench_model(name):
    """An architecture of BENCH_MODELS (random weights), else a model file or bundled model's
    name as ``lrp explain`` opens it: a user's own network, timed alike. One that cannot
    say its input shape is refused (random inputs of that shape are what is timed)."""
    if name in BENCH_MODELS:
        return BENCH_MODELS[name]()
    from .io.models import load_classifier  # noqa: PLC0415 (no file reader for architectures)

    try:
        model = load_classifier(name)
    except ModelFormatError as exc:
        if os.path.exists(name):
            raise
        from .bundled import bundled_models  # noqa: PLC0415 (only for an error message)

        close = closest_name(name, [*BENCH_MODELS, *(p.stem for p in bundled_models())])
        hint = f" (did you mean {close}?)" if close else ""
        raise ModelFormatError(f"unknown benchmark model {name!r}{hint}: an architecture of "
                               f"{', '.join(BENCH_MODELS)}, or a model file or bundled "
                               f"model: {exc}") from None
    if model.input_spec is None:
        raise ShapeError(f"{name}: the model does not say its input shape; give it a "
                         "sidecar MODEL.json with \"input\": {\"shape\": [...]} to time it")
    return model


def multiply_adds(model) -> int:
    """Multiply-adds of one forward pass for one sample (a dilated convolution's: its taps')."""
    total = 0
    for layer, out in zip(model.layers, model.shapes(), strict=True):
        if isinstance(layer, Linear):
            total += layer.m * layer.n
        elif getattr(layer, "convolution", False):  # grouped, depthwise, dilated too
            h, w, d, n = layer.kernel  # d: input channels per group
            total += out[0] * out[1] * n * h * w * d
    return total


# OpenBLAS's worker threads keep spinning for ~0.1 s after a multi-threaded product; timings
# taken meanwhile lose a core to them (LeNet-5's forward pass measured up to 1.6× slower).
BLAS_SETTLE_S = 0.3


def matmul_rate(backend, dtype, size=1024, repeat=5) -> float:
    """Multiply-adds per second of a square matrix product on this backend."""
    xp = backend.xp
    a = xp.asarray(np.random.default_rng(0).normal(size=(size, size)), dtype=dtype)
    a @ a
    backend.synchronize()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        a @ a
        backend.synchronize()
        times.append(time.perf_counter() - t)
    if backend.name == "numpy":
        time.sleep(BLAS_SETTLE_S)
    return size ** 3 / min(times)


def _median_time(fn, backend, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        backend.synchronize()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


OVERHEAD_FLOOR_MS = 1.0  # below: each layer's fixed Python cost (tens of µs) outweighs its sums
OVERHEAD_NOTE = ("* floor under 1 ms: a model this small (or one small sample) is timed mostly "
                 "by the fixed cost of each layer's Python call, not by its arithmetic, so "
                 "×floor there says how small the model is rather than how fast the engine "
                 "explains; a larger batch measures the engine")


@dataclass
class BenchRow:
    model: str
    backend: str
    dtype: str
    batch: int
    forward_ms: float
    lrp_ms: dict = field(default_factory=dict)
    heatmaps_per_s: float = 0.0
    peak_mb: float = 0.0
    floor_ms: float = 0.0

    @property
    def times_floor(self) -> float:
        first = next(iter(self.lrp_ms.values()))
        return (self.forward_ms + first) / self.floor_ms if self.floor_ms else float("nan")

    @property
    def overhead_bound(self) -> bool:
        """Whether the floor is too small for ×floor to measure the engine (OVERHEAD_NOTE)."""
        return self.floor_ms < OVERHEAD_FLOOR_MS


def _peak_memory_mb(explainer, x, config, backend) -> float:
    """Peak extra memory of one forward + one LRP pass (host: tracemalloc; GPU: cupy pool)."""
    if backend.name == "cupy":
        pool = backend.xp.get_default_memory_pool()
        pool.free_all_blocks()
        before = pool.used_bytes()
        fwd = explainer.forward(x, raw=True)
        fwd.relevance(config, "pred", to_numpy=False)
        backend.synchronize()
        return (pool.total_bytes() - before) / 2**20
    tracemalloc.start()
    try:
        fwd = explainer.forward(x, raw=True)
        fwd.relevance(config, "pred")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def run_benchmark(models=("lenet5", "long-rect"), batch_sizes=(1, 16, 64, 256),
                  dtypes=("float64", "float32"), rules=DEFAULT_RULES, backend=None, repeat=7,
                  report=None):
    """Measure every combination; ``report(row)`` is called as rows complete."""
    be = get_backend(backend)
    rows, rates = [], {}
    for name in models:
        model = bench_model(name)
        macs = multiply_adds(model)
        rng = np.random.default_rng(1)
        for dtype_name in dtypes:
            dtype = get_dtype(dtype_name)
            if dtype_name not in rates:
                rates[dtype_name] = matmul_rate(be, dtype)
            explainer = Explainer(model, be, dtype)
            configs = {r: resolve_rules(explainer.layers, r) for r in rules}
            for n in batch_sizes:
                x = be.xp.asarray(rng.uniform(-1, 1, size=(n,) + tuple(model.input_spec.shape)),
                                  dtype=dtype)
                fwd = explainer.forward(x, raw=True)
                for cfg in configs.values():  # warm-up: caches, allocator
                    fwd.relevance(cfg, "pred", to_numpy=False)
                forward_s = _median_time(
                    lambda ex=explainer, x=x: ex.forward(x, raw=True), be, repeat)
                lrp = {}
                for r, cfg in configs.items():
                    lrp[r] = 1e3 * _median_time(
                        lambda cfg=cfg, f=fwd: f.relevance(cfg, "pred", to_numpy=False), be,
                        repeat)
                first = next(iter(lrp.values())) / 1e3
                row = BenchRow(
                    model=name, backend=be.name, dtype=dtype_name, batch=n,
                    forward_ms=1e3 * forward_s, lrp_ms=lrp,
                    heatmaps_per_s=n / (forward_s + first),
                    peak_mb=_peak_memory_mb(explainer, x, configs[rules[0]], be),
                    floor_ms=1e3 * 2 * macs * n / rates[dtype_name])
                rows.append(row)
                if report:
                    report(row)
    return rows, rates


def format_header(rules) -> str:
    cols = "".join(f"{r[:16]:>17}" for r in rules)
    return (f"{'model':<19}{'backend':<8}{'dtype':<8}{'batch':>6}{'fwd ms':>9}{cols}"
            f"{'maps/s':>10}{'peak MB':>9}{'floor ms':>10}{'×floor':>10}")


def format_row(row: BenchRow) -> str:
    cols = "".join(f"{v:>17.3f}" for v in row.lrp_ms.values())
    name = os.path.basename(row.model)  # a user's model file by its name; JSON keeps the path
    return (f"{name:<18} {row.backend:<8}{row.dtype:<8}{row.batch:>6}{row.forward_ms:>9.3f}"
            f"{cols}{row.heatmaps_per_s:>10.0f}{row.peak_mb:>9.1f} {row.floor_ms:>9.4f}"
            f" {row.times_floor:>9.2f}"  # a GPU's ×floor runs to 5 digits: keep a space
            + ("*" if row.overhead_bound else ""))
