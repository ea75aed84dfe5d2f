"""Throughput of ``lrp explain --out R.zarr`` on a local Dask cluster of 1 and 2 workers,
against the single-process loop, with the figures the README's scaling estimate uses: cluster
start-up, per-chunk compute (timed on the worker), and what the run costs beyond it.

    PYTHONPATH=. python3 tools/bench_distributed.py [MODEL] [INPUT.npy] [--batch-size N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def single_process(model_path, x, batch):
    import lrpcore
    from lrpcore.explain import resolve_rules

    ex = lrpcore.Explainer(lrpcore.load_model(model_path), "numpy", "float64")
    config = resolve_rules(ex.layers)
    t0 = time.perf_counter()
    for a, b in ex.passes((len(x),) + ex.prepare(x[:1]).shape[1:], batch):
        ex.forward(ex.prepare(x[a:b]), raw=True).relevance(config)
    return time.perf_counter() - t0


def on_cluster(model_path, input_path, batch, workers, folder):
    from lrpcore import distributed as dist

    t0 = time.perf_counter()
    client, cluster = dist.connect(workers=workers)
    client.wait_for_workers(workers)
    started = time.perf_counter() - t0
    try:
        source, _ = dist.open_source(input_path)
        args = {"model": str(model_path), "backend": "numpy", "dtype": "float64", "rule": None,
                "layer_rules": {}, "target": "pred", "raw": False, "batch_size": batch,
                "source": source}
        t1 = time.perf_counter()
        result = dist.explain_to_store(args, Path(folder) / f"R{workers}.zarr", client=client,
                                       progress=False)
        wall = time.perf_counter() - t1
    finally:
        client.close()
        cluster.close()
    return started, wall, result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", default=str(ROOT / "models" / "mnist-lenet5.npz"))
    p.add_argument("input", nargs="?",
                   default=str(ROOT.parent / "shared" / "data" / "mnist_test_images.npy"))
    p.add_argument("--batch-size", type=int, default=256)
    args = p.parse_args()
    x = np.load(args.input, mmap_mode="r")
    n = len(x)
    base = single_process(args.model, x, args.batch_size)
    print(f"{Path(args.model).name}, {n} samples, chunks of {args.batch_size}")
    print(f"single process (no store): {base:.2f} s = {n / base:.0f} samples/s")
    with tempfile.TemporaryDirectory() as folder:
        for workers in (1, 2):
            started, wall, r = on_cluster(args.model, args.input, args.batch_size, workers,
                                          folder)
            per_chunk = statistics.median(r.chunk_seconds)
            busy = sum(r.chunk_seconds) / workers
            print(f"{workers} worker(s): start {started:.2f} s, run {wall:.2f} s = "
                  f"{n / wall:.0f} samples/s; {r.chunks} chunks, median {1000 * per_chunk:.1f} "
                  f"ms on the worker (read+explain+write); wall beyond worker time "
                  f"{1000 * (wall - busy) / r.chunks:.1f} ms per chunk")


if __name__ == "__main__":
    main()
