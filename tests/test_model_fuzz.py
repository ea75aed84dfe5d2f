"""Fuzzing the model readers: any input gives a model or ModelFormatError, fast, never a crash."""

from __future__ import annotations

import io
import json
import re
import zipfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrpcore import ModelFormatError
from lrpcore.io.native import read_native
from lrpcore.io.toolbox_txt import format_toolbox_text, parse_toolbox_text, read_toolbox_txt
from lrpcore.layers import Convolution, Flatten, Linear, Rect, SoftMax, SumPool
from lrpcore.model import Sequential

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

SMALL_TXT = format_toolbox_text(Sequential([
    Convolution(np.arange(2 * 2 * 1 * 3).reshape(2, 2, 1, 3) / 10, -np.arange(3) / 7, (1, 1)),
    Rect(), SumPool((2, 2), (1, 1)), Flatten(), Linear(np.ones((3, 2)) / 3, np.zeros(2)),
    SoftMax()]))
LINE_ERROR = re.compile(r"^<fuzz>(, line \d+)?: ")


def _check_txt(text):
    """Parse; on failure the error must be ours and name the file (and line, if not empty)."""
    try:
        layers = parse_toolbox_text(text, "<fuzz>")
    except ModelFormatError as exc:
        msg = str(exc)
        assert LINE_ERROR.match(msg), msg
        if text.strip():
            assert ", line " in msg, msg
        return None
    assert layers
    return layers


@FUZZ
@given(st.text(max_size=300))
def test_txt_random_text(text):
    _check_txt(text)


_TOKENS = st.sampled_from(["Linear", "Convolution", "SumPool", "MaxPool", "Rect", "Tanh",
                           "SoftMax", "Flatten", "0", "1", "2", "3", "-1", "0.5", "nan", "inf",
                           "1e999", "999999999999", "1000000", "x", "\t", "\n", "\n", "\n", " ",
                           "\x00", "-0.0", "1_0", "٣", "9" * 5000])


@FUZZ
@given(st.lists(_TOKENS, max_size=60).map(" ".join))
def test_txt_token_soup(text):
    _check_txt(text)


@st.composite
def _mutated(draw):
    text = SMALL_TXT
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cut", "insert", "delete", "replace", "dup_line"]))
        pos = draw(st.integers(0, len(text)))
        if op == "cut":
            text = text[:pos]
        elif op == "insert":
            text = text[:pos] + draw(st.sampled_from([" 7", "\n", " x", "Rect\n", " 1e400",
                                                      "\n100000 100000\n", " -"])) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)):]
        elif op == "replace":
            text = text[:pos] + draw(st.characters()) + text[pos + 1:]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            text = "\n".join(lines[:i] + [lines[i]] + lines[i:])
    return text


@FUZZ
@given(_mutated())
def test_txt_mutated_model(text):
    layers = _check_txt(text)
    if layers is not None:
        assert all(np.all(np.isfinite(layer.W)) for layer in layers if layer.weighted)


@FUZZ
@given(st.sampled_from(["Linear", "Convolution", "SumPool", "MaxPool"]),
       st.lists(st.integers(-5, 10**13), min_size=1, max_size=7))
def test_txt_huge_sizes_fail_fast(kind, sizes):
    text = f"{kind} {' '.join(map(str, sizes))}\n1 2 3\n4\n"
    _check_txt(text)


def test_txt_header_claiming_1e12_weights_fails_at_once():
    try:
        parse_toolbox_text("Linear 1000000 1000000\n" + "0 " * 10 + "\n0\n", "<fuzz>")
    except ModelFormatError as exc:
        assert "line 1" in str(exc) and "large" in str(exc)
    else:
        raise AssertionError("accepted a 10^12-weight header")
    try:
        parse_toolbox_text("Linear 40000 40000\n0 0 0\n0\n", "<fuzz>")
    except ModelFormatError as exc:  # 1.6·10^9 weights claimed, 4 numbers present
        assert "line 1" in str(exc) and "are left in the file" in str(exc)
    else:
        raise AssertionError("accepted a truncated 1.6·10^9-weight layer")


@FUZZ
@given(st.binary(max_size=400))
def test_txt_binary_junk(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("txt") / "junk.txt"
    path.write_bytes(data)
    try:
        read_toolbox_txt(path)
    except ModelFormatError as exc:
        assert str(exc).startswith(f"{path}"), str(exc)


# --- native header -------------------------------------------------------------------------------

def _native_with_header(header, arrays):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for key, value in {"header": np.array(header), **arrays}.items():
            member = io.BytesIO()
            np.save(member, value)
            zf.writestr(key + ".npy", member.getvalue())
    return buf.getvalue()


_GOOD_HEADER = {
    "format": "lrp-explorer-model", "version": 1,
    "layers": [{"type": "Linear", "inputs": 4, "outputs": 3}, {"type": "Rect"},
               {"type": "Linear", "inputs": 3, "outputs": 2}],
    "input": {"shape": [4], "raw_shape": [2, 2, 1], "layout": "flat"},
    "class_names": ["a", "b"], "provenance": "fuzz", "accuracy": 0.5, "meta": {},
}
_GOOD_ARRAYS = {"layer0.W": np.ones((4, 3)), "layer0.B": np.zeros(3),
                "layer2.W": np.ones((3, 2)), "layer2.B": np.zeros(2)}

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**15, 10**15) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
_KEYS = st.sampled_from(["format", "version", "layers", "input", "class_names", "provenance",
                         "accuracy", "meta"])
_LAYER_KEYS = st.sampled_from(["type", "inputs", "outputs", "filters", "stride", "pool"])
_INPUT_KEYS = st.sampled_from(["shape", "raw_shape", "layout", "divide", "offset", "pad",
                               "pad_value", "value_range", "raw_range", "other"])


@st.composite
def _fuzzed_header(draw):
    header = json.loads(json.dumps(_GOOD_HEADER))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "layer", "input", "drop"]))
        value = draw(_json)
        if where == "top":
            header[draw(_KEYS)] = value
        elif where == "layer" and isinstance(header.get("layers"), list) and header["layers"]:
            i = draw(st.integers(0, len(header["layers"]) - 1))
            if isinstance(header["layers"][i], dict):
                header["layers"][i][draw(_LAYER_KEYS)] = value
        elif where == "input" and isinstance(header.get("input"), dict):
            header["input"][draw(_INPUT_KEYS)] = value
        elif where == "drop":
            header.pop(draw(_KEYS), None)
    return header


def _read(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("npz") / "fuzz.npz"
    path.write_bytes(data)
    try:
        return read_native(path)
    except ModelFormatError as exc:
        assert str(exc).startswith(str(path)), str(exc)
        return None


def test_native_fuzz_baseline_is_valid(tmp_path_factory):
    model = _read(tmp_path_factory, _native_with_header(json.dumps(_GOOD_HEADER), _GOOD_ARRAYS))
    assert model is not None and model.class_names == ["a", "b"]


@FUZZ
@given(_fuzzed_header())
def test_native_fuzzed_header_values(tmp_path_factory, header):
    text = json.dumps(header)  # NaN and Infinity appear as JSON extensions, as Python writes
    _read(tmp_path_factory, _native_with_header(text, _GOOD_ARRAYS))


@FUZZ
@given(st.text(max_size=200))
def test_native_header_not_json(tmp_path_factory, text):
    _read(tmp_path_factory, _native_with_header(text, _GOOD_ARRAYS))


_ARRAY_VALUES = st.sampled_from([np.ones((3, 4)), np.ones((4, 3), np.float32), np.zeros(0),
                                 np.array(np.nan), np.full((4, 3), np.nan), np.ones((4, 3), int),
                                 np.array(["x"] * 3), np.ones((4, 3, 1)), np.ones(3, ">f8")])


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(_GOOD_ARRAYS)), _ARRAY_VALUES, max_size=2),
       st.sets(st.sampled_from(sorted(_GOOD_ARRAYS)), max_size=1))
def test_native_wrong_or_missing_arrays(tmp_path_factory, replaced, dropped):
    arrays = {**_GOOD_ARRAYS, **replaced}
    arrays = {k: v for k, v in arrays.items() if k not in dropped}
    model = _read(tmp_path_factory, _native_with_header(json.dumps(_GOOD_HEADER), arrays))
    if model is not None:  # only acceptable arrays can have been substituted
        for key, value in replaced.items():
            assert value.shape == _GOOD_ARRAYS[key].shape and np.all(np.isfinite(value))
        assert not dropped


@FUZZ
@given(st.binary(max_size=300), st.integers(0, 2000))
def test_native_damaged_bytes(tmp_path_factory, junk, pos):
    good = _native_with_header(json.dumps(_GOOD_HEADER), _GOOD_ARRAYS)
    pos = min(pos, len(good))
    _read(tmp_path_factory, good[:pos] + junk + good[pos + len(junk):])
