"""Layers read from a file that can never form one network are refused when read, naming the
layer (lrpcore/io/layer_check.py, from what each layer class declares)."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.bench import lenet5, long_rect
from lrpcore.errors import ModelFormatError
from lrpcore.io.layer_check import MAX_PADDING, check_layer_chain
from lrpcore.layers import Convolution, Flatten, Linear, MaxPool, Pad, Rect, SoftMax, SumPool


def lin(m, n):
    return Linear(np.zeros((m, n)), np.zeros(n))


def conv(d, n, h=3):
    return Convolution(np.zeros((h, h, d, n)), np.zeros(n))


@pytest.mark.parametrize("layers", [lenet5().layers, long_rect().layers,
                                    [conv(1, 4), Rect(), SumPool(), Flatten(), lin(36, 2)],
                                    [Pad((1, 1, 1, 1)), conv(3, 2), MaxPool(), Flatten(),
                                     lin(8, 3), SoftMax()],
                                    [Flatten(), lin(784, 10)], [lin(4, 3), Flatten(), lin(3, 2)]])
def test_valid_chains_pass(layers):
    check_layer_chain(layers)


@pytest.mark.parametrize("layers,index,words", [
    ([lin(3, 4), lin(5, 2)], 1, "Linear takes 5 inputs, the previous layer gives 4"),
    ([conv(1, 25), conv(10, 4)], 1, "Convolution takes 10 channels, the previous layer gives 25"),
    ([lin(3, 4), conv(4, 2)], 1, "Convolution needs image input"),
    ([lin(3, 4), SumPool()], 1, "SumPool needs image input"),
    ([lin(3, 4), Rect(), MaxPool()], 2, "MaxPool needs image input"),
    ([lin(3, 4), Pad((1, 1, 1, 1))], 1, "Pad needs image input"),
    ([conv(1, 4), lin(4, 2)], 1, "Linear needs flat input"),
    ([conv(1, 4), Rect(), Flatten(), lin(4, 2), lin(3, 1)], 4, "takes 3 inputs"),
])
def test_impossible_chains_name_the_layer(layers, index, words):
    with pytest.raises(ModelFormatError) as err:
        check_layer_chain(layers, lambda i: f"model.txt, line {10 + i}")
    assert f"model.txt, line {10 + index}: " in str(err.value)
    assert words in str(err.value)


def test_padding_beyond_the_bound_is_refused():
    half = MAX_PADDING // 4
    ok = [Pad((half, half, 0, 0)), Pad((half, half, 0, 0))]  # exactly MAX_PADDING rows
    check_layer_chain(ok)
    with pytest.raises(ModelFormatError, match=r"layer 3: Pad layers together add"):
        check_layer_chain(ok + [Pad((0, 0, 1, 0)), Pad((1, 0, 0, 0))])
