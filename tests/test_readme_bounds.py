"""The README's "What is bounded, and by how much" states the limits the code applies: each
number is read from the module that enforces it, so changing a limit without the README (or
the README without the code) fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrpcore import distributed, export, limits
from lrpcore.io import (
    claims,
    datasets,
    idx,
    image_folder,
    layer_check,
    native,
    onnx_graph,
    onnx_import,
    sidecar,
    toolbox_nn,
    toolbox_txt,
    torch_pth,
)
from lrpcore.render import outline

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


def _section() -> str:
    start = README.index("#### What is bounded, and by how much")
    return README[start:README.index("\n### ", start)]


def _n(value) -> str:
    return f"{int(value):,}"


CLAIMS = [  # (what the README says, the code's value it must contain)
    ("ONNX graph nodes", f"at most {_n(onnx_graph.MAX_NODES)} nodes"),
    ("ONNX activations", f"all layer outputs of one sample at most "
                         f"{_n(onnx_graph.MAX_ACTIVATION_VALUES)} values"),
    ("ONNX input sample", f"at most {_n(onnx_import.MAX_SAMPLE_ELEMENTS)} values"),
    ("ONNX pads", f"pads at most {_n(onnx_graph.MAX_PAD)} a side"),
    ("ONNX shape arithmetic", f"at most {_n(onnx_graph.MAX_CONSTANT_ELEMENTS)} values"),
    ("array elements", f"{_n(native._MAX_ELEMENTS)} (2³¹) elements"),
    ("toolbox .txt layers", f"at most {_n(toolbox_txt.MAX_LAYERS)} layers"),
    ("pth tensors", f"at most {_n(torch_pth.MAX_TENSORS)} tensors of at most "
                    f"{torch_pth.MAX_DIMS} dimensions"),
    ("sidecar size", f"at most {sidecar._MAX_BYTES >> 20} MB"),
    ("image pixels", f"at most {_n(image_folder.MAX_PIXELS)} pixels"),
    ("rendered pixels", f"at most {_n(outline.MAX_PIXELS)} pixels drawn"),
    ("zarr input chunks", f"one chunk at most {_n(distributed.MAX_CHUNK_BYTES >> 20)} MB "
                          f"decompressed; one sample split into at most "
                          f"{_n(distributed.MAX_CHUNKS_PER_SAMPLE)} chunks; at most "
                          f"{_n(distributed.MAX_TASKS)} tasks"),
    ("figure pixels", f"rows × columns × cell at most {_n(export.MAX_FIGURE_PIXELS)} pixels"),
    ("native npz inflation", f"at most {native._INFLATION_FLOOR >> 20} MB + "
                             f"{native._MAX_INFLATION} × the archive's compressed bytes"),
    ("deflate ratio (datasets)", f"at most {claims.MAX_RATIO} × its compressed size"),
    ("deflate ratio (IDX)", f"at most {idx._GZIP_MAX_RATIO} × the `.gz` size"),
    ("Pad layers", f"each side at most {layer_check.MAX_PADDING // 2}; all `Pad` layers "
                   f"together add at most {layer_check.MAX_PADDING} pixels"),
    ("labels counted by slot", f"not 0 … {datasets._MAX_COUNTED_CLASSES - 1} |"),
]


@pytest.mark.parametrize("what, phrase", CLAIMS, ids=[c[0] for c in CLAIMS])
def test_the_readme_states_each_bound_the_code_applies(what, phrase):
    assert phrase in _section(), f"README: {what} should read {phrase!r}"


@pytest.mark.parametrize("cap", [limits.DOWNLOAD_MAX, limits.DOWNLOAD_DEADLINE,
                                 limits.DOWNLOAD_STALL, limits.CACHE_MAX,
                                 limits.RELMAX_CACHE_MAX],
                         ids=lambda c: c.env)
def test_the_readme_lists_each_cap_with_its_default(cap):
    assert f"| `{cap.env}` | {cap.default:g} |" in _section()


def test_the_nn_reader_and_the_native_reader_share_the_array_bound():
    assert toolbox_nn._MAX_ELEMENTS == native._MAX_ELEMENTS == toolbox_txt._MAX_ELEMENTS


def test_the_readme_states_the_checkpoint_budget():
    from lrpcore.train import loop

    assert (f"at most {loop.BYTES_PER_PARAMETER} bytes per model parameter + "
            f"{loop.STATE_BYTES >> 20} MB") in _section()
