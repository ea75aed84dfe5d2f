"""``lrp data``: inspect datasets and download full MNIST.

``lrp data info PATH_OR_NAME`` prints count, sample shape, dtype, labels and source;
``lrp data download [--kind train|test|all] [--mirror URL]`` fetches MNIST into the cache with
a text progress bar on stderr.
"""

from __future__ import annotations

import sys
import time

from ..text import printable
from .common import add_command, add_progress_arguments, labels_help


def register(sub) -> None:
    parser = add_command(sub, "data", "Inspect datasets and download MNIST.",
                         "lrp data info mnist-sample")
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION")
    info = add_command(actions, "info", "Print count, shape, labels and source of a dataset.",
                       "lrp data info train-images-idx3-ubyte.gz")
    from ..io.datasets import DATASET_NAMES  # noqa: PLC0415

    info.add_argument("dataset", help="file (.npy, .npz, IDX, .mat, .txt, a PNG/JPEG "
                      "photograph), image folder, or a built-in name ("
                      + " / ".join(DATASET_NAMES) + ")")
    info.add_argument("--labels", metavar="FILE",
                      help=labels_help("DATASET", "shown with it"))
    info.set_defaults(func=run_info)
    down = add_command(actions, "download", "Download full MNIST into the cache.",
                       "lrp data download --kind test")
    down.add_argument("--kind", choices=["train", "test", "all"], default="all",
                      help="which part of MNIST (default: all)")
    down.add_argument("--mirror", action="append", metavar="URL",
                      help="base URL to download from (repeatable; default: LRP_MNIST_MIRROR "
                      "or the built-in mirror list)")
    down.add_argument("--cache-dir", help="folder for the files (default: the user cache, or "
                      "LRP_CACHE_DIR)")
    add_progress_arguments(down)
    down.set_defaults(func=run_download)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_info(args) -> int:
    from ..io.datasets import open_dataset

    ds = open_dataset(args.dataset, labels=args.labels)
    print(printable(ds.describe()))  # class names are folder names: no escapes
    return 0


class TextProgress:
    """A one-line progress bar per file, redrawn at most ten times a second."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.current = None
        self.last = 0.0

    def __call__(self, done: int, total: int, filename: str) -> None:
        now = time.monotonic()
        finished = total and done >= total
        if filename == self.current and not finished and now - self.last < 0.1:
            return
        if filename != self.current and self.current is not None:
            self.stream.write("\n")
        self.current, self.last = filename, now
        if total:
            filled = int(self.width * done / total)
            bar = "#" * filled + "-" * (self.width - filled)
            text = f"{filename:<28} [{bar}] {done / 1e6:6.1f}/{total / 1e6:.1f} MB"
        else:
            text = f"{filename:<28} {done / 1e6:6.1f} MB"
        self.stream.write("\r" + text)
        self.stream.flush()

    def finish(self) -> None:
        if self.current is not None:
            self.stream.write("\n")
            self.stream.flush()


def run_download(args) -> int:
    from ..io.download import download_mnist

    show = sys.stderr.isatty() if args.progress is None else args.progress
    bar = TextProgress() if show else None
    try:
        paths = download_mnist(args.kind, mirrors=args.mirror, cache_dir=args.cache_dir,
                               progress=bar)
    finally:
        if bar is not None:
            bar.finish()
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0
