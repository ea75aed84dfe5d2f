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

    ``where(i)`` names layer ``i`` in the message (e.g. the file and line it came from). What
    each kind needs and gives is declared by its class (``chain_input``, ``chain_output``,
    ``chain_widths``, ``added_pixels``).
    """
    flat = None  # True: (features,), False: (H, W, C), None: not known yet
    padded = [0, 0]  # pixels added to height and width by Pad layers so far
    size = None  # features (flat) or channels (spatial), when known
    for i, layer in enumerate(layers):
        name, needs = layer.kind, layer.chain_input
        takes, gives = layer.chain_widths()
        rows, cols = layer.added_pixels()
        padded = [padded[0] + rows, padded[1] + cols]
        if max(padded) > MAX_PADDING:  # each pixel of padding costs memory per sample
            raise ModelFormatError(f"{where(i)}: Pad layers together add {max(padded)} "
                                   f"pixels to one side; more than {MAX_PADDING} is not a "
                                   "model this program can run")
        if needs == "flat" and flat is False and size is not None:
            raise ModelFormatError(f"{where(i)}: {name} needs flat input; the previous layer "
                                   "gives an image (add a Flatten)")
        if needs == "image" and flat:
            raise ModelFormatError(f"{where(i)}: {name} needs image input; the previous layer "
                                   "gives a flat vector")
        if takes is not None and size is not None and flat == (needs == "flat") \
                and size != takes:
            what = "inputs" if needs == "flat" else "channels"
            raise ModelFormatError(f"{where(i)}: {name} takes {takes} {what}, the previous "
                                   f"layer gives {size}")
        if layer.chain_output is not None:
            becomes_flat = layer.chain_output == "flat"
            if gives is None and flat is not None and flat != becomes_flat:
                size = None  # e.g. features = H·W·C after a Flatten: unknown without the input
            flat = becomes_flat
        if gives is not None:
            size = gives
