"""The checks that need an NVIDIA GPU, in one run: cupy = numpy, GPU speed, GPU training.

CI has no GPU, so these cannot be tests; run this where cupy sees a device, e.g. on the device
machine of a session that is lent one (it has Python 3.12 with numpy and cupy only, which is
all this script needs: no scikit-image, Qt or pytest):

    PYTHONPATH=. python3 tools/gpu_check.py [--quick] [--json OUT.json]

It prints, and exits 1 when a check fails:
1. parity: relevance of every rule and preset, float64, cupy against numpy on the same models
   and inputs (issue target: 1e-10 relative to the largest magnitude), and float32 cupy against
   float64 (1e-4);
2. speed: ``lrpcore.bench`` rows for LeNet-5 and long-rect on cupy (targets: float32 batch 256
   under 2 ms, one sample under 1 ms);
3. training: one epoch of a small convolutional net on cupy against numpy (weights within 1e-4).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RULES = ["simple", "epsilon:0.01", "alphabeta:2", "alphabeta:1", "flat", "ww", "zb",
         "gamma:0.25", "zplus", "EpsilonPlus", "EpsilonPlusFlat", "EpsilonAlpha2Beta1",
         "EpsilonAlpha2Beta1Flat", "EpsilonGammaBox", "Alpha1WW"]
PARITY_F64 = 1e-10
PARITY_F32 = 1e-4


def models():
    """The benchmark models (random weights) and every bundled model of the repository."""
    import lrpcore
    from lrpcore import bench

    found = {"lenet5 (random)": bench.lenet5(), "long-rect (random)": bench.long_rect()}
    for path in sorted(Path(__file__).resolve().parents[1].glob("models/*.npz")):
        found[path.name] = lrpcore.load_model(path)
    return found


def announce_gpu() -> bool:
    """Print the device the checks run on; False (and why, on stderr) without one."""
    from lrpcore.backend import get_backend, gpu_available

    if not gpu_available():
        print("no GPU: cupy is missing or sees no device", file=sys.stderr)
        return False
    print(f"backend: {get_backend('cupy').device}", flush=True)
    return True


def rel(a, b) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def parity(quick: bool) -> tuple[bool, list]:
    import lrpcore

    ok, rows = True, []
    rng = np.random.default_rng(0)
    for name, model in models().items():
        x = rng.uniform(-1, 1, (8 if quick else 32,) + tuple(model.input_spec.shape))
        cpu = lrpcore.Explainer(model, "numpy", "float64").forward(x, raw=True)
        gpu = lrpcore.Explainer(model, "cupy", "float64").forward(x, raw=True)
        gpu32 = lrpcore.Explainer(model, "cupy", "float32").forward(x, raw=True)
        for rule in RULES[:4] if quick else RULES:
            for target in ("pred", "output"):
                want = cpu.relevance(rule, target)
                d64 = rel(gpu.relevance(rule, target), want)
                d32 = rel(gpu32.relevance(rule, target), want)
                good = d64 <= PARITY_F64 and d32 <= PARITY_F32
                ok &= good
                rows.append({"model": name, "rule": rule, "target": target,
                             "f64": d64, "f32": d32, "ok": good})
                print(f"{'ok  ' if good else 'FAIL'} {name:24s} {rule:24s} {target:6s} "
                      f"f64 {d64:.2e}  f32 {d32:.2e}", flush=True)
    return ok, rows


def speed(quick: bool) -> list:
    from lrpcore import bench

    rules = ("epsilon:0.01", "alphabeta:2")
    print(bench.format_header(rules), flush=True)
    rows, _ = bench.run_benchmark(
        backend="cupy", batch_sizes=(1, 256) if quick else (1, 16, 64, 256),
        rules=rules, repeat=11 if quick else 31,
        report=lambda row: print(bench.format_row(row), flush=True))
    return [dict(vars(r), times_floor=r.times_floor) for r in rows]


def training() -> tuple[bool, float]:
    from lrpcore.train.data import make_data
    from lrpcore.train.loop import TrainConfig, train

    rng = np.random.default_rng(0)
    labels = np.arange(240) % 3
    images = rng.integers(0, 60, size=(240, 8, 8, 1))
    for i, c in enumerate(labels):
        images[i, 1 + 2 * c:3 + 2 * c, 1:7, 0] = 250
    data = make_data(images.astype(np.uint8), labels, "toy")
    config = dict(layers="conv:3x3x4,rect,sumpool:2,flatten,linear:3", epochs=1, batch_size=16,
                  seed=7, dtype="float64", pad=1, lr=0.01)
    with tempfile.TemporaryDirectory() as tmp:
        a = train(TrainConfig(**config), data, Path(tmp) / "a.npz", backend="numpy",
                  log=lambda s: None)
        b = train(TrainConfig(**config), data, Path(tmp) / "b.npz", backend="cupy",
                  log=lambda s: None)
    diff = max(rel(lb.W, la.W) for la, lb in zip(a.model.layers, b.model.layers, strict=True)
               if la.weighted)
    print(f"{'ok  ' if diff <= 1e-4 else 'FAIL'} training: cupy weights against numpy after "
          f"one epoch: {diff:.2e}", flush=True)
    return diff <= 1e-4, diff


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rules, batch sizes and repeats")
    p.add_argument("--json", help="also write every figure as JSON")
    args = p.parse_args(argv)
    if not announce_gpu():
        return 2
    t0 = time.perf_counter()
    parity_ok, parity_rows = parity(args.quick)
    speed_rows = speed(args.quick)
    train_ok, train_diff = training()
    print(f"parity {'passed' if parity_ok else 'FAILED'}, training "
          f"{'passed' if train_ok else 'FAILED'} ({time.perf_counter() - t0:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"parity": parity_rows, "speed": speed_rows, "training_weight_diff": train_diff},
            indent=1, default=str))
    return 0 if parity_ok and train_ok else 1


if __name__ == "__main__":
    sys.exit(main())
