"""Small colour models for the GUI tests of photographs: a graph model with EfficientNet-Lite0's
input specification (3-channel NCHW, resize then centre crop, per-channel mean/std) at 16×16,
and a folder of photographs of mixed sizes. Built in the test: no download, no torch."""

from __future__ import annotations

import numpy as np

N_CLASSES = 12
NAMES = [f"class {k}" for k in range(N_CLASSES)]
NAMES[7] = "Egyptian cat"


def colour_graph_model(side=16, names=None):
    """ToChannelsLast → pad → 3×3 conv → ReLU6 → depthwise 3×3 (+ residual Add) → mean pool
    → linear: the node kinds of EfficientNet-Lite0 on a 3×side×side NCHW input; ``names``:
    other class names (as many outputs) than NAMES."""
    names = NAMES if names is None else list(names)
    import lrpcore  # noqa: F401 (registers the layers)
    from lrpcore.graph import GraphModel, Node
    from lrpcore.graph_layers import Add, Clip, GroupedConvolution, MeanPool, ToChannelsLast
    from lrpcore.layers import Convolution, Flatten, Linear, Pad
    from lrpcore.spec import InputSpec

    rng = np.random.default_rng(11)
    c = 6
    nodes = [
        Node("to_nhwc", ToChannelsLast(), ("input",), "a"),
        Node("stem/pad", Pad((1, 1, 1, 1)), ("a",), "b"),
        Node("stem", Convolution(rng.normal(0, 0.4, (3, 3, 3, c)), rng.normal(0, 0.05, c)),
             ("b",), "c"),
        Node("stem_relu", Clip(0.0, 6.0), ("c",), "d"),
        Node("dw/pad", Pad((1, 1, 1, 1)), ("d",), "e"),
        Node("dw", GroupedConvolution(rng.normal(0, 0.4, (3, 3, 1, c)), rng.normal(0, 0.05, c),
                                      (1, 1), groups=c), ("e",), "f"),
        Node("dw_relu", Clip(0.0, 6.0), ("f",), "g"),
        Node("add", Add(), ("g", "d"), "h"),
        Node("pool", MeanPool((4, 4), (4, 4)), ("h",), "i"),
        Node("flatten", Flatten(), ("i",), "j"),
        Node("fc", Linear(rng.normal(0, 0.3, ((side // 4) ** 2 * c, len(names))),
                          rng.normal(0, 0.01, len(names))), ("j",), "logits"),
    ]
    spec = InputSpec(shape=(3, side, side), raw_shape=(side, side, 3), layout="NCHW",
                     divide=255.0, offset=0.0, value_range=(-1.0, 1.0), raw_range=(0.0, 255.0),
                     mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                     extra={"resize": side + 2, "crop": side})
    from dataclasses import replace

    spec = replace(spec, value_range=spec.mapped_range())
    return GraphModel(nodes, "input", "logits", spec, {"class_names": names})


def write_photos(folder, sizes=((40, 30), (20, 26), (16, 16), (33, 17), (50, 50))):
    """Random RGB photographs of the given (width, height) as PNG files p0.png, p1.png, ..."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for k, (w, h) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            folder / f"p{k}.png")
    return folder


def tiny_colour_files(tmp_path):
    """(model, its .npz path, a .npy of 6 colour images) for a 4×4×3 dense model: the
    smallest colour model the window opens (tests of switching between data kinds)."""
    import lrpcore
    from lrpcore.layers import Flatten, Linear
    from lrpcore.spec import InputSpec

    rng = np.random.default_rng(0)
    model = lrpcore.Sequential([Flatten(), Linear(rng.normal(0, 0.01, (48, 3)), np.zeros(3))],
                               InputSpec(shape=(4, 4, 3), raw_shape=(4, 4, 3)))
    path = tmp_path / "colour-model.npz"
    lrpcore.save_model(model, path)
    data = tmp_path / "colour_images.npy"
    np.save(data, rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8))
    return model, path, data
