"""Casts of data: a model exported in float64 (``model.double()``) casts to float32 around the
operators ONNX defines only for it (``Celu``) and back. Such a file was refused with "operator
Cast is not supported (supported: …, Cast, …)", naming Cast among the supported ones; casts
between floating types are dropped (the engine computes in its own dtype: the zoo's
``smooth_float64`` agrees with zennit within 5e-8, outputs within 3e-16, in
tests/test_zoo_reference.py), a cast of data to an integer type is refused saying so."""

from __future__ import annotations

import numpy as np
import pytest
from hostile_files import save_onnx_graph

from lrpcore import ModelFormatError, load_model

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _net(tmp_path, to):
    W = numpy_helper.from_array(np.eye(3), "W")  # float64 weights, as model.double() writes
    nodes = [helper.make_node("MatMul", ["x", "W"], ["z"], name="fc"),
             helper.make_node("Cast", ["z"], ["c"], name="cast", to=to),
             helper.make_node("Celu", ["c"], ["e"], name="celu"),
             helper.make_node("Cast", ["e"], ["y"], name="back", to=TensorProto.DOUBLE)]
    return save_onnx_graph(tmp_path / "m.onnx", nodes, [W], (1, 3), (1, 3),
                           elem_type=TensorProto.DOUBLE)


def test_casts_between_floating_types_are_dropped(tmp_path):
    model = load_model(_net(tmp_path, TensorProto.FLOAT))
    assert [n.layer.kind for n in model.nodes] == ["Linear", "Elementwise"]
    x = np.array([[-1.0, 0.5, 2.0]])
    np.testing.assert_allclose(model.forward(x), np.where(x > 0, x, np.expm1(x)), atol=1e-15)


def test_a_cast_of_data_to_integers_is_refused_saying_so(tmp_path):
    path = _net(tmp_path, TensorProto.INT64)
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    assert str(err.value) == (f"{path}: node 1 'cast' (Cast): Cast of data to int64 is not "
                              "supported: only between floating types (a float64 export's "
                              "casts around Celu)")
