"""A Clever Hans on purpose: MNIST digits where part of one class carry a corner watermark,
and a small model trained on them that learns the shortcut. SpRAy's test and the README's
example use it (``python -m lrpcore.watermark OUT_DIR`` writes the model and the data)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

CLASS = 3
MARK = (slice(1, 5), slice(1, 5))  # a 4×4 white square in the top-left corner


def watermarked_digits(cls=CLASS, fraction=0.5, seed=0):
    """(images N×28×28 uint8, labels, indices of the marked samples) from the MNIST sample."""
    from .io.datasets import open_dataset

    ds = open_dataset("mnist-sample")
    x = ds.images(None).copy()
    y = np.asarray(ds.labels).astype(np.int64)
    idx = np.flatnonzero(y == cls)
    marked = np.sort(np.random.default_rng(seed).choice(idx, int(idx.size * fraction),
                                                        replace=False))
    x[(marked,) + MARK] = 255
    return x, y, marked


def train_watermark_model(x, y, path, epochs=3):
    """A 784-64-10 ReLU network trained for seconds (lrpcore.train) on the marked digits."""
    from .train import TrainConfig, train
    from .train.checkpoint import checkpoint_path
    from .train.data import make_data

    train(TrainConfig(layers="linear:64,rect,linear:10,softmax", epochs=epochs, seed=0,
                      lr=0.003, pad=0), make_data(x, y, "watermark"), path, backend="numpy",
          log=lambda s: None, overwrite=True)
    # a finished demo model needs no resumable checkpoint beside it (it was left in OUT_DIR)
    Path(checkpoint_path(path)).unlink(missing_ok=True)
    return path


def main(argv=None) -> int:
    import argparse  # noqa: PLC0415

    p = argparse.ArgumentParser(prog="python -m lrpcore.watermark", description=(
        "Write the watermarked MNIST sample (images, labels, marked indices) and a model "
        "trained on it into OUT_DIR."))
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to write (created)")
    out = Path(p.parse_args(sys.argv[1:] if argv is None else argv).out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x, y, marked = watermarked_digits()
    np.save(out / "watermark_images.npy", x)
    np.save(out / "watermark_labels.npy", y)
    np.save(out / "watermark_marked.npy", marked)
    train_watermark_model(x, y, out / "watermark-model.npz")
    print(f"wrote {out}/watermark-model.npz and the data ({marked.size} marked 3s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
