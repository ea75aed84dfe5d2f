"""Where one GPU explanation spends its time: single array operations, and every layer of
LeNet-5 for one sample and a batch, forward and ε-LRP. Needs numpy and cupy only:

    PYTHONPATH=. python3 tools/gpu_profile.py

Small batches on a GPU are bound by the fixed cost of each operation (a kernel launch and
cupy's Python around it), not by arithmetic; these figures say which operations to fuse.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def timed(fn, sync, repeat=200) -> float:
    """Median microseconds of fn() followed by a device synchronisation."""
    fn()
    sync()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return 1e6 * float(np.median(times))


def single_operations(cp, sync) -> None:
    from lrpcore.kernels import epsilon_share
    from lrpcore.layers import _windows

    f = cp.float32
    small = cp.ones((1, 10), dtype=f)
    z = cp.asarray(np.random.default_rng(0).normal(size=(1, 28, 28, 10)), dtype=f)
    x = cp.ones((1, 32, 32, 1), dtype=f)
    a, w = cp.ones((1, 100), dtype=f), cp.ones((100, 10), dtype=f)
    host = np.ones(1024, dtype=np.float32)
    onehot = cp.zeros((1, 10), dtype=f)
    ops = {
        "synchronize only": lambda: None,
        "x + 1 on 1×10": lambda: small + 1,
        "maximum(z, 0) on 1×28×28×10": lambda: cp.maximum(z, 0),
        "(z >= 0).astype": lambda: (z >= 0).astype(f),
        "ε share, fused kernel": lambda: epsilon_share(z, z, 0.01, cp),
        "matmul 1×100 @ 100×10": lambda: a @ w,
        "window copy 1×28×28×5×5×1": lambda: cp.ascontiguousarray(_windows(x, 5, 5, 1, 1, cp)),
        "zeros 1×36×36×10": lambda: cp.zeros((1, 36, 36, 10), dtype=f),
        "slice setitem": lambda: z.__setitem__((slice(None), slice(0, 14)), 0),
        "one-hot setitem (arange, argmax)": lambda: onehot.__setitem__(
            (cp.arange(1), cp.argmax(small, axis=1)), 1),
        "bool(all(isfinite))": lambda: bool(cp.all(cp.isfinite(z))),
        "asarray 1024 floats host→device": lambda: cp.asarray(host),
        "asnumpy 1024 floats device→host": lambda: cp.asnumpy(x),
        "sum over axes (2, 4) of a 6-D view": lambda: z.reshape(1, 14, 2, 14, 2, 10).sum(
            axis=(2, 4)),
    }
    print("single operations (µs, median of 200):")
    for name, fn in ops.items():
        print(f"  {name:40s} {timed(fn, sync):8.1f}", flush=True)


def layers(cp, sync, dtype, n) -> None:
    import lrpcore
    from lrpcore.bench import lenet5
    from lrpcore.explain import Context, resolve_rules

    model = lenet5()
    ex = lrpcore.Explainer(model, "cupy", dtype)
    x = np.random.default_rng(1).uniform(-1, 1, (n, 32, 32, 1))
    config = resolve_rules(ex.layers, "epsilon:0.01")
    fwd = ex.forward(x, raw=True)
    acts = fwd.activations
    ctx = Context(cp, ex.dtype, ex.input_range)
    R = [None] * len(ex.layers) + [fwd.output]
    for i in range(len(ex.layers) - 1, -1, -1):
        R[i] = fwd._layer_relevance(i, ex.layers[i], config.rules[i], acts, R[i + 1], ctx)
    print(f"LeNet-5 {dtype} batch {n} (µs): layer, forward, ε backward")
    for i, layer in enumerate(ex.layers):
        f = timed(lambda layer=layer, i=i: layer.forward(acts[i], cp), sync, repeat=100)
        b = timed(lambda layer=layer, i=i: fwd._layer_relevance(
            i, layer, config.rules[i], acts, R[i + 1], ctx), sync, repeat=100)
        print(f"  {i:2d} {layer.describe():36s} {f:8.1f} {b:8.1f}", flush=True)
    from lrpcore.explain import initial_relevance

    xd = cp.asarray(x, dtype=ex.dtype)
    parts = {"prepare (host checks)": lambda: ex.prepare(x, raw=True),
             "host → device copy": lambda: cp.asarray(np.asarray(x, dtype=ex.dtype)),
             "layers only (_forward_shard)": lambda: ex._forward_shard(xd),
             "forward from a device array": lambda: ex.forward(xd, raw=True),
             "initial relevance (pred)": lambda: initial_relevance(fwd.output, "pred", None, cp)}
    for name, fn in parts.items():
        print(f"  {name:40s} {timed(fn, sync, repeat=100):8.1f}", flush=True)
    whole_f = timed(lambda: ex.forward(x, raw=True), sync, repeat=100)
    whole_b = timed(lambda: fwd.relevance(config, to_numpy=False), sync, repeat=100)
    whole_bn = timed(lambda: fwd.relevance(config), sync, repeat=100)
    print(f"  Explainer.forward {whole_f:.1f}, relevance {whole_b:.1f} "
          f"(with copy to numpy {whole_bn:.1f})", flush=True)


def main() -> int:
    from lrpcore.backend import get_backend, gpu_available

    if not gpu_available():
        print("no GPU: cupy is missing or sees no device", file=sys.stderr)
        return 2
    be = get_backend("cupy")
    print(f"backend: {be.device}", flush=True)
    single_operations(be.xp, be.synchronize)
    for dtype, n in (("float32", 1), ("float64", 1), ("float32", 256)):
        layers(be.xp, be.synchronize, dtype, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
