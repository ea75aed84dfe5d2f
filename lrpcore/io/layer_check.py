"""Checks that a list of layers read from a file can form one network, whatever the input size.

A file may hold layers that can never fit together (a Linear 3→4 followed by a Linear 5→2, a
convolution expecting 10 channels after one producing 25). Such files are rejected when read,
naming the layer, instead of failing later inside an explanation. Only facts that do not
depend on the input's height and width are checked, so valid models are never refused.
"""

from __future__ import annotations

from ..errors import ModelFormatError

MAX_PADDING = 8192  # pixels all Pad layers together may add to height or width (4096 a side)


def check_layer_chain(layers, where=lambda i: f"layer {i}") -> None:
    """Raise ModelFormatError where a layer cannot take the previous layer's output.

    ``where(i)`` names layer ``i`` in the message (e.g. the file and line it came from).
    """
    flat = None  # True: (features,), False: (H, W, C), None: not known yet
    padded = [0, 0]  # pixels added to height and width by Pad layers so far
    size = None  # features (flat) or channels (spatial), when known
    for i, layer in enumerate(layers):
        k = layer.kind
        if k == "Linear":
            if flat is False and size is not None:
                raise ModelFormatError(f"{where(i)}: Linear needs flat input; the previous "
                                       "layer gives an image (add a Flatten)")
            if flat and size is not None and size != layer.m:
                raise ModelFormatError(f"{where(i)}: Linear takes {layer.m} inputs, the "
                                       f"previous layer gives {size}")
            flat, size = True, layer.n
        elif k == "Convolution":
            d, n = layer.W.shape[2], layer.W.shape[3]
            if flat:
                raise ModelFormatError(f"{where(i)}: Convolution needs image input; the "
                                       "previous layer gives a flat vector")
            if size is not None and size != d:
                raise ModelFormatError(f"{where(i)}: Convolution filters take {d} channels, "
                                       f"the previous layer gives {size}")
            flat, size = False, n
        elif k in ("SumPool", "MaxPool", "Pad"):
            if k == "Pad":
                top, bottom, left, right = (int(p) for p in layer.pads)
                padded = [padded[0] + top + bottom, padded[1] + left + right]
                if max(padded) > MAX_PADDING:  # each pixel of padding costs memory per sample
                    raise ModelFormatError(f"{where(i)}: Pad layers together add {max(padded)} "
                                           f"pixels to one side; more than {MAX_PADDING} is "
                                           "not a model this program can run")
            if flat:
                raise ModelFormatError(f"{where(i)}: {k} needs image input; the previous "
                                       "layer gives a flat vector")
            flat = False
        elif k == "Flatten":
            if flat is False:
                size = None  # features = H·W·C, unknown without the input size
            flat = True
