"""Stop 24 (cli2): defects an earlier session noticed and left — the sanity figure's width,
the layers lrp concepts offers, render's fit of far larger maps, unusable --settings paths,
integer ONNX weights, dangling links in image folders, the graph path's αβ overflow and the
re-check of a complete relevance store."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.insight import sanity


def _sanity_result(n_steps, side=40):
    rng = np.random.default_rng(0)
    inputs = rng.random((2, side, side, 3))
    steps = tuple(sanity.SanityStep(tuple(range(k)), ("Convolution",) * k, np.full(2, 0.5),
                                    np.full(2, 0.5), rng.normal(size=(2, side, side)))
                  for k in range(n_steps))
    return sanity.SanityResult("EpsilonPlus", 2, steps, inputs, 0.1)


def test_the_sanity_figure_of_many_steps_wraps_into_bands():
    """EfficientNet-Lite0's 50 randomisation steps were drawn in one row: a PNG 11,754 pixels
    wide and 490 high. Steps beyond MAX_STEP_COLUMNS wrap into bands of near-equal size, one
    under the other, each starting with the samples; a figure that fits stays as it was."""
    assert sanity.MAX_STEP_COLUMNS == 12
    bands = sanity.step_bands(51)
    assert [len(b) for b in bands] == [10, 10, 11, 10, 10]
    assert [k for b in bands for k in b] == list(range(51))
    assert sanity.step_bands(12) == [range(12)]
    one_row = sanity.figure(_sanity_result(12), scaling=1)
    wrapped = sanity.figure(_sanity_result(51), scaling=1)
    assert wrapped.shape[1] < 1.1 * one_row.shape[1]  # about as wide as 12 steps in a row
    assert wrapped.shape[0] >= 5 * one_row.shape[0]  # five bands, every step drawn
    band = sanity.figure(_sanity_result(10), scaling=1)  # the first band alone, as it was
    np.testing.assert_array_equal(wrapped[:band.shape[0], :band.shape[1]], band)


def test_an_unknown_concepts_layer_lists_only_layers_that_can_be_chosen():
    """The error of ``lrp concepts --layer NAME`` listed the first eight nodes: Pad nodes (no
    channels of their own) and convolutions a skip connection bypasses (refused when
    chosen) among them. It lists layers that are accepted, no Pad."""
    import re

    from shared_data import shared_path

    import lrpcore
    from lrpcore import concepts
    from lrpcore.errors import RuleError
    from lrpcore.explain import Explainer
    from lrpcore.layers import Pad

    ex = Explainer(lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx")),
                   "numpy")
    with pytest.raises(RuleError, match="no layer is named 'nope'") as err:
        concepts.resolve_layer(ex, "nope")
    listed = re.search(r"\((?:names|layers to choose): (.*?)(?:, \.\.\.)?; or give an index\)",
                       str(err.value)).group(1).split(", ")
    assert len(listed) == 8
    for name in listed:
        k = concepts.resolve_layer(ex, name)  # accepted, not "bypassed by a skip connection"
        assert not isinstance(ex.layers[k], Pad), name


def test_render_refuses_maps_far_larger_than_their_input(tmp_path, capsys):
    """``lrp render`` padded any smaller input by any even margin: a 280×280 map over a 28×28
    digit was drawn (exit 0) with the digit a speck in its middle. A border beyond a quarter
    of the input's side is refused, naming both files and both shapes; a padded model's
    32×32 maps over 28×28 digits are still drawn."""
    from lrpcore.cli.main import main

    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.random((1, 28, 28)))
    np.save(tmp_path / "big.npy", rng.normal(size=(1, 280, 280)))
    np.save(tmp_path / "padded.npy", rng.normal(size=(1, 32, 32)))
    out = tmp_path / "h.png"
    argv = ["render", "--input", str(tmp_path / "x.npy"), "--out", str(out)]
    assert main(["render", str(tmp_path / "big.npy")] + argv[1:]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    for word in ("x.npy", "big.npy", "28×28", "280×280", "far larger"):
        assert word in err, err
    assert not out.exists()
    assert main(["render", str(tmp_path / "padded.npy")] + argv[1:]) == 0 and out.is_file()


@pytest.mark.parametrize("op", ["Conv", "ConvTranspose", "Gemm"])
def test_integer_onnx_weights_are_refused_naming_node_and_initializer(tmp_path, op):
    """An ONNX Conv whose filters are int8 (a quantised export without its DequantizeLinear)
    was read as float filters of the stored integers: the heatmaps of another model, without
    a word. It is refused, naming the node and the initializer; float filters still load."""
    pytest.importorskip("onnx")
    from hostile_files import save_onnx_graph
    from onnx import helper, numpy_helper

    from lrpcore import ModelFormatError, load_model

    def model(dtype):
        if op != "Gemm":  # ConvTranspose's filters are C_in × C_out × k × k: 1 × 2 here
            W = numpy_helper.from_array(np.full((1 + (op == "Conv"), 2 - (op == "Conv"), 3, 3),
                                                7, dtype), "Wq")
            node = helper.make_node(op, ["x", "Wq"], ["y"], name="conv")
            return save_onnx_graph(tmp_path / f"{dtype.__name__}.onnx", [node], [W],
                                   (1, 1, 5, 5), (1, 2, 3, 3) if op == "Conv" else (1, 2, 7, 7))
        W = numpy_helper.from_array(np.full((4, 3), 7, dtype), "Wq")
        node = helper.make_node("Gemm", ["x", "Wq"], ["y"], name="fc")
        return save_onnx_graph(tmp_path / f"{dtype.__name__}.onnx", [node], [W], (1, 4),
                               (1, 3))

    path = model(np.int8)
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    name = "fc' (Gemm)" if op == "Gemm" else f"conv' ({op})"
    for word in (str(path), name, "'Wq'", "int8", "DequantizeLinear"):
        assert word in str(err.value), str(err.value)
    assert load_model(model(np.float32)).nodes  # float filters load


def test_dangling_links_in_an_image_folder_are_named_as_broken_photos_are(tmp_path, capsys):
    """A folder's symbolic link to a photo since moved or deleted was dropped without a word
    (only broken photos were named in the 'left out' warning): it is named there too, with
    where it points; the other images are used."""
    from PIL import Image

    from lrpcore.cli.main import main

    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    for k in range(2):
        Image.fromarray((rng.random((28, 28)) * 255).astype(np.uint8)).save(folder / f"d{k}.png")
    (folder / "broken.png").write_bytes(b"no png")
    (folder / "gone.png").symlink_to(tmp_path / "moved-away.png")
    out = tmp_path / "R.npy"
    assert main(["explain", "mnist-lenet5", str(folder), "--out", str(out)]) == 0
    line = next(s for s in capsys.readouterr().err.splitlines() if "left out" in s)
    assert "2 images cannot be read and are left out" in line, line
    assert "broken.png (cannot decode the image" in line
    assert f"gone.png (a symbolic link to {tmp_path / 'moved-away.png'}, which does not exist)" \
        in line
    assert np.load(out).shape[0] == 2


@pytest.mark.parametrize("rule,dtype,scale,advice", [
    ("alphabeta", "float32", 1e36, "--dtype float64"),
    ("alphabeta:5", "float32", 1e36, "--dtype float64"),
    ("EpsilonAlpha2Beta1", "float32", 1e36, "--dtype float64")])
def test_alphabeta_overflow_on_a_graph_model_says_so(tmp_path, capsys, rule, dtype, scale,
                                                     advice):
    """The αβ overflow guard (rules.check_overflow) was only on the toolbox form of the rule;
    a graph model takes the literature's form, so an ONNX model explained with αβ over
    float32 samples near 1e36 ended in 'a division by zero (e.g. epsilon:0 …); choose a rule
    with a stabiliser > 0'. It names the node, the rule and the overflow, as for the
    toolbox chain; no output is written."""
    from shared_data import shared_path

    from lrpcore.cli.main import main

    x = np.zeros((2, 1, 28, 28))
    x[:, :, 5:20, 5:20] = 1e36
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "R.npy"
    model = str(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    assert main(["explain", model, str(tmp_path / "x.npy"), "--raw", "--dtype", dtype,
                 "--rule", rule, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for word in ("node ", "(Convolution", f"the numbers overflow {dtype}",
                 "too large for the rule's divisions", advice):
        assert word in err, err
    assert "division by zero" not in err and not out.exists()


@pytest.mark.parametrize("dtype,advice", [(np.float32, "--dtype float64"),
                                          (np.float64, "divisions; scale the samples down")])
def test_an_overflow_advises_float64_only_where_the_pass_was_narrower(dtype, advice):
    """The advice was 'scale the samples down' in float32 too, where explaining in float64
    is what helps a model whose activations outgrow float32 (random-weight EfficientNetV2)."""
    from lrpcore.errors import RuleError
    from lrpcore.rules import AlphaBeta, check_overflow

    R = np.ones((1, 3), dtype=dtype)
    x = np.ones((1, 4), dtype=dtype)
    with pytest.raises(RuleError, match=f"overflow {np.dtype(dtype).name}") as err:
        check_overflow(AlphaBeta(), np, R, x, np.full((1, 4), np.inf, dtype=dtype))
    assert advice in str(err.value)
    assert ("float64" in str(err.value).split("divisions")[1]) == (dtype == np.float32)


@pytest.mark.parametrize("damage", ["values changed", "file removed"])
def test_a_complete_store_run_again_recomputes_a_damaged_chunk(tmp_path, damage):
    """A resumed run checks every chunk marked done; a complete store run again answered
    'all chunks already done' without looking: a chunk changed or removed on disk after the
    run stayed in R.zarr. It is checked as a resumed one is and the damaged chunk computed
    again, saying so; an undamaged complete store is still left as it is."""
    distributed = pytest.importorskip("distributed")
    zarr = pytest.importorskip("zarr")
    from pathlib import Path

    from local_store import job_args

    import lrpcore
    from lrpcore import distributed as dist
    from lrpcore import open_relevance_store
    from lrpcore.io.relevance_store import partial_path

    x = tmp_path / "x.npy"
    np.save(x, lrpcore.open_dataset("mnist-test").images(np.arange(20)))
    out = tmp_path / "R.zarr"
    source, _ = dist.open_source(str(x))
    args = job_args("mnist-dense-rect", source, batch_size=5)
    said = []
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        def run():
            said.clear()
            return dist.explain_to_store(args, out, client=client, progress=False,
                                         log=said.append)

        assert run().computed == 4
        want = open_relevance_store(out).heatmaps(slice(None))
        again = run()  # undamaged: nothing to do
        assert (again.computed, again.skipped) == (0, 4)
        assert said == [f"{out}: all 4 chunks already done"]
        g = zarr.open_group(out, mode="r+")
        if damage == "values changed":
            g["relevance"][10:12] = g["relevance"][10:12] * 1.5
        else:
            [chunk] = [p for p in Path(out, "relevance", "c", "2").rglob("*") if p.is_file()]
            chunk.unlink()
        again = run()
    assert (again.computed, again.skipped, again.failed) == (1, 3, [])
    assert f"{out}: complete, but 1 of its 4 chunks are damaged on disk; computing them " \
        "again" in said
    assert any("chunk 3/4 (samples 10..14) is marked done but damaged" in s for s in said)
    np.testing.assert_array_equal(open_relevance_store(out).heatmaps(slice(None)), want)
    assert not Path(partial_path(out)).exists()
