"""How much of `lrp bench`'s time the matrix products alone take, at the layers' own shapes.

`lrp bench`'s arithmetic floor divides a model's multiply-adds (one forward and one backward
pass) by the rate of a 1024×1024 product. A network's products are smaller and thinner than
that (a photograph's 7×7 maps give 49 rows; a digit's layers a few hundred), and BLAS runs them
at a fraction of the square rate. This script times, in one run beside that rate:

- ``products``: every dense and convolution layer's product at its own shape (rows = samples ×
  output pixels, im2col columns = kernel height × width × input channels), the fastest of
  ``--repeat`` calls, once forward and once backward (the floor's arithmetic); depthwise and
  grouped layers, which have no product, count at the square rate as in the floor;
- ``z+ minimum``: the same plus the product EpsilonPlus's z⁺ rule needs of its own at every
  convolution (z⁺ = x·w⁺ differs from the forward z) and the second backward product at the
  convolutions whose input takes both signs (x⁺·w⁺ and x⁻·w⁻ go back apart).

Run by hand, with the pass on all cores as a photograph's pass runs (one BLAS thread per
core's share) or, for batches, BLAS's own threads::

    python3 tools/product_floor.py --models resnet,efficientnet-lite0 --batch-sizes 1,16

The ratio ``z+ minimum / floor`` is the least ``×floor`` any implementation of forward +
EpsilonPlus built on this BLAS can reach on this machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lrpcore.backend import get_backend, get_dtype
from lrpcore.bench import BENCH_MODELS, matmul_rate, multiply_adds
from lrpcore.graph_layers import Clip, GroupedConvolution
from lrpcore.layers import Convolution, Linear, Pad, Rect


def product_shapes(model, batch):
    """[(rows, inner, outputs, takes both signs)] of every dense and convolution layer, and
    the multiply-adds of the grouped (depthwise) ones, for ``batch`` samples."""
    shapes, grouped = [], 0
    layers, outs = model.layers, model.shapes()
    for i, (layer, out) in enumerate(zip(layers, outs, strict=True)):
        mixed = not _after_activation(model, i)
        if isinstance(layer, Linear):
            shapes.append((batch, layer.m, layer.n, mixed))
        elif isinstance(layer, GroupedConvolution):
            h, w, d, n = layer.W.shape
            grouped += batch * out[0] * out[1] * n * h * w * d
        elif isinstance(layer, Convolution):
            h, w, d, n = layer.W.shape
            shapes.append((batch * out[0] * out[1], h * w * d, n, mixed))
    return shapes, grouped


def _after_activation(model, i) -> bool:
    """Whether layer i reads an activation's output (ReLU, ReLU6: no negative inputs),
    looking back through pads; the input, a merge or a linear layer gives both signs."""
    nodes = getattr(model, "nodes", None)
    if nodes is None:  # a chain: each layer reads the one before
        before = model.layers[:i][::-1]
    else:
        producers = {node.output: node for node in nodes}
        before, node = [], nodes[i]
        while node.inputs[0] in producers:
            node = producers[node.inputs[0]]
            before.append(node.layer)
    for layer in before:
        if isinstance(layer, Rect | Clip):
            return True
        if not isinstance(layer, Pad):
            return False
    return False


def fastest(fn, repeat) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def product_times(shapes, dtype, repeat):
    """(forward, backward) seconds of each product shape."""
    rng = np.random.default_rng(0)
    out = []
    for M, K, N, _ in shapes:
        a = rng.random((M, K)).astype(dtype)
        w = rng.random((K, N)).astype(dtype)
        g = rng.random((M, N)).astype(dtype)
        out.append((fastest(lambda a=a, w=w: a @ w, repeat),
                    fastest(lambda g=g, w=w: g @ w.T, repeat)))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="resnet,efficientnet-lite0")
    parser.add_argument("--batch-sizes", default="1,16")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args(argv)
    backend = get_backend("numpy")
    print(f"{'model':<19}{'dtype':<9}{'batch':>6}{'floor ms':>10}{'products ms':>13}"
          f"{'×floor':>8}{'z+ minimum ms':>15}{'×floor':>8}")
    for dtype_name in args.dtypes.split(","):
        dtype = get_dtype(dtype_name)
        rate = matmul_rate(backend, dtype)
        for name in args.models.split(","):
            model = BENCH_MODELS[name]()
            macs = multiply_adds(model)
            for batch in (int(b) for b in args.batch_sizes.split(",")):
                shapes, grouped = product_shapes(model, batch)
                times = product_times(shapes, dtype, args.repeat)
                square = 2 * grouped / rate  # depthwise: forward + backward at the square rate
                products = square + sum(f + b for f, b in times)
                zplus = products + sum(
                    f + (b if mixed else 0.0)
                    for (f, b), (*_, mixed), is_conv in zip(
                        times, shapes, _conv_flags(model), strict=True) if is_conv)
                floor = 2 * macs * batch / rate
                print(f"{name:<19}{dtype_name:<9}{batch:>6}{1e3 * floor:>10.3f}"
                      f"{1e3 * products:>13.3f}{products / floor:>8.2f}"
                      f"{1e3 * zplus:>15.3f}{zplus / floor:>8.2f}")
        print(f"matmul rate ({dtype_name}): {rate / 1e9:.1f} G multiply-adds/s")


def _conv_flags(model):
    """For each product of ``product_shapes``: whether it is a convolution (EpsilonPlus gives
    convolutions z⁺ and dense layers ε)."""
    return [isinstance(layer, Convolution) for layer in model.layers
            if isinstance(layer, Linear | Convolution)]


if __name__ == "__main__":
    main()
