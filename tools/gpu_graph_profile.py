"""Where one GPU explanation of EfficientNet-Lite0 spends its time: per layer kind and rule
(a device synchronisation after each node), and the Python functions with the most own time.

    PYTHONPATH=. python3 tools/gpu_graph_profile.py [--batch 16] [--dtype float32]

A graph model's explanation on a GPU is mostly a few thousand small operations; these
figures say which nodes to fuse into the engine's own kernels (lrpcore/kernels.py).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import sys
import time

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--rule", default="EpsilonPlus")
    p.add_argument("--backend", default="cupy", help="numpy profiles the CPU (one thread)")
    args = p.parse_args(argv)
    import lrpcore
    from lrpcore.explain import resolve_rules
    from lrpcore.graph_explain import GraphForward
    from lrpcore.zoo import efficientnet_lite0

    backend = lrpcore.backend.get_backend(args.backend)
    xp = backend.xp
    ex = lrpcore.Explainer(efficientnet_lite0(), backend, args.dtype, threads=1)
    x = xp.asarray(np.random.default_rng(0).uniform(
        -1, 1, (args.batch,) + tuple(ex.model.input_spec.shape)), dtype=ex.dtype)
    config = resolve_rules(ex.layers, args.rule)

    def once():
        fwd = ex.forward(x, raw=True)
        fwd.relevance(config, "pred", to_numpy=False)
        backend.synchronize()

    for _ in range(3):
        once()
    times = []
    for _ in range(11):
        t = time.perf_counter()
        once()
        times.append(time.perf_counter() - t)
    print(f"forward + {args.rule}, batch {args.batch} {args.dtype}: "
          f"{1e3 * np.median(times):.2f} ms (median of 11)")

    per = collections.defaultdict(lambda: [0.0, 0])
    plain = GraphForward._node_relevance

    def timed(self, k, node, rule, R, ctx, tensors):
        backend.synchronize()
        t = time.perf_counter()
        out = plain(self, k, node, rule, R, ctx, tensors)
        backend.synchronize()
        key = f"{type(node.layer).__name__} / {type(rule).__name__ if rule else '-'}"
        per[key][0] += time.perf_counter() - t
        per[key][1] += 1
        return out

    GraphForward._node_relevance = timed
    once()
    GraphForward._node_relevance = plain
    total = sum(v[0] for v in per.values())
    print(f"backward nodes, synchronised after each: {1e3 * total:.2f} ms")
    for key, (s, n) in sorted(per.items(), key=lambda kv: -kv[1][0]):
        print(f"  {key:44s} {n:4d} nodes {1e3 * s:8.2f} ms")
    prof = cProfile.Profile()
    prof.enable()
    once()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
