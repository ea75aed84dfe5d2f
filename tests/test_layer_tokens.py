"""The --layers mini-syntax is one registry (TOKEN_KINDS): every word is documented, parses,
builds its layer, and a wrong argument names the token."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.errors import ShapeError
from lrpcore.train import architectures
from lrpcore.train.architectures import ALIASES, TOKEN_KINDS, build_model, parse_layers

EXAMPLES = {"linear": "linear:3", "conv": "conv:3x3x2/1", "sumpool": "sumpool:2",
            "maxpool": "maxpool:2x2/2", "pad": "pad:1", "rect": "rect", "tanh": "tanh",
            "flatten": "flatten", "softmax": "softmax"}


def test_every_word_is_documented_and_has_an_example():
    assert set(EXAMPLES) == set(TOKEN_KINDS)
    for name in [*TOKEN_KINDS, *ALIASES]:
        assert f"``{name}" in architectures.__doc__, name


@pytest.mark.parametrize("name", sorted(TOKEN_KINDS))
def test_every_word_builds_its_layer(name):
    spec = {"linear": "flatten,linear:3,linear:2",
            "softmax": "flatten,linear:4,softmax"}.get(
        name, f"pad:1,conv:3x3x2,{EXAMPLES[name]},flatten,linear:2")
    model = build_model(spec, np.random.default_rng(0), raw_shape=(6, 6, 1), pad=0)
    out = model.forward(np.zeros((1,) + model.input_spec.shape))
    assert out.shape[0] == 1 and np.all(np.isfinite(out))


@pytest.mark.parametrize("text,words", [("linear:0", "token 1 'linear:0': expected linear:N"),
                                        ("rect:2", "token 1 'rect:2': rect takes no argument"),
                                        ("flatten,bogus", "token 2 'bogus': unknown layer"),
                                        ("conv:3x3", "expected conv:HxWxN")])
def test_wrong_tokens_are_named(text, words):
    with pytest.raises(ShapeError, match=words):
        parse_layers(text)


def test_aliases_parse_as_their_word():
    assert [t.kind for t in parse_layers("relu,dense:3")] == ["rect", "linear"]
