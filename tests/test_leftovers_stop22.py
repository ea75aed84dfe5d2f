"""Defects earlier reviews noticed and left (stop 22): an output that replaced a model's
sidecar; `lrp data info` on samples without values; a Mul by a scalar described as 6 channels;
the sanity figure's white-on-black digits; conditional maps counted as samples;
photographs drawn at the digits' scaling 3; a /proc/stat of another format; ×floor of tiny
models."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hostile_files import one_line

import lrpcore

MODELS = Path(__file__).resolve().parents[1] / "models"
SIDE = '{"class_names": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]}\n'


@pytest.mark.parametrize("make", ["existing", "new"])
@pytest.mark.parametrize("argv", [
    ["sanity", "OTHER", "mnist-test", "--n", "2", "--csv", "SIDE", "--overwrite"],
    ["evaluate", "OTHER", "mnist-test", "--n", "2", "--csv", "SIDE", "--overwrite"],
    ["sweep", "OTHER", "mnist-test", "--rule", "epsilon", "--param", "epsilon=0.1,1", "--n",
     "2", "--csv", "SIDE", "--overwrite"],
    ["bench", "--models", "lenet5", "--json", "SIDE", "--overwrite"],
])
def test_no_output_replaces_or_creates_a_models_sidecar(tmp_path, capsys, argv, make):
    """``--csv m.json --overwrite`` beside ``m.npz`` replaced the model's sidecar (its class
    names, input specification) with a CSV, and without one created a sidecar that made
    ``m.npz`` fail to load; refused before anything is computed, whichever model is used."""
    from lrpcore.cli.main import main

    shutil.copy(MODELS / "mnist-lenet5.npz", tmp_path / "m.NPZ")
    side = tmp_path / "m.json"
    if make == "existing":
        side.write_text(SIDE)
    names = {"OTHER": str(MODELS / "mnist-lenet5.npz"), "SIDE": str(side)}
    assert main([names.get(a, a) for a in argv]) == 2
    one_line(capsys, "m.json: is the sidecar of the model m.NPZ beside it", "another name")
    assert (side.read_text() == SIDE) if make == "existing" else not side.exists()


def test_a_library_export_never_writes_a_models_sidecar(tmp_path):
    """The library's exports (the explorer's too) refuse a model's sidecar as well."""
    from lrpcore.errors import ExportError
    from lrpcore.export import export_relevance

    shutil.copy(MODELS / "mnist-lenet5.npz", tmp_path / "m.npz")
    with pytest.raises(ExportError, match="sidecar of the model m.npz"):
        export_relevance(tmp_path / "m.json", np.zeros((28, 28)), overwrite=True)
    assert not (tmp_path / "m.json").exists()
    export_relevance(tmp_path / "r.npy", np.zeros((28, 28)))  # other names as before
    assert (tmp_path / "r.npy.json").is_file()


@pytest.mark.parametrize("shape, words", [
    ((3, 0), "samples of shape 0 hold no values (data of 3×0)"),
    ((5, 28, 0), "samples of shape 28×0 hold no values (data of 5×28×0)"),
    ((2, 0, 4, 3), "samples of shape 0×4×3 hold no values"),
    ((0, 1, 1, 1, 4, 4, 3), "7-dimensional data (0×1×1×1×4×4×3)"),
    ((2, 1, 1, 1, 4, 4, 3), "7-dimensional data (2×1×1×1×4×4×3)"),
])
def test_lrp_data_info_refuses_samples_without_values_as_it_refuses_7d_data(
        tmp_path, capsys, shape, words):
    """Samples that hold no values were described as a dataset ('0 per sample', exit 0) and
    only lrp explain found they fit no model, while 7-D data was refused at once: both are
    refused by the same check, each naming the shape and what is expected."""
    from lrpcore.cli.main import main

    path = tmp_path / "x.npy"
    np.save(path, np.zeros(shape, np.float32))
    assert main(["data", "info", str(path)]) == 2
    one_line(capsys, words, "expected N samples of (H, W, C) images or flat vectors")


def test_lrp_data_info_says_an_empty_dataset_is_refused_and_blank_samples_are_fine(
        tmp_path, capsys):
    """Zero samples are described (the file is readable) with a note that every command
    refuses it; samples whose values are all zero (black images) are ordinary samples."""
    from lrpcore.cli.main import main

    np.save(tmp_path / "empty.npy", np.zeros((0, 28, 28), np.uint8))
    np.save(tmp_path / "black.npy", np.zeros((2, 28, 28), np.uint8))
    assert main(["data", "info", str(tmp_path / "empty.npy")]) == 0
    out = capsys.readouterr().out
    assert "samples: 0\n" in out and "note:    no samples: the commands and the explorer " \
        "refuse it" in out
    assert main(["data", "info", str(tmp_path / "black.npy")]) == 0
    out = capsys.readouterr().out
    assert "samples: 2\n" in out and "note" not in out


def _conv_times_scalar(path, producer, side=8):
    """Conv → Relu → Mul by a scalar on N×6×(side−2)² → Flatten → MatMul, as ``producer``
    wrote it."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    flat = 6 * (side - 2) ** 2
    inits = [numpy_helper.from_array(rng.normal(size=(6, 3, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(np.array(0.5, np.float32), "s"),
             numpy_helper.from_array(rng.normal(size=(flat, 4)).astype(np.float32), "W2"),
             numpy_helper.from_array(np.array([-1, flat], np.int64), "shape")]
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Mul", ["r", "s"], ["m"], name="mul"),
             helper.make_node("Reshape", ["m", "shape"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "W2"], ["y"], name="fc")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                producer_name=producer), path)
    return path


@pytest.mark.parametrize("producer, kind", [("tf2onnx", "Affine"), ("pytorch", "Scale")])
def test_a_mul_by_a_scalar_is_described_as_a_scalar(tmp_path, capsys, producer, kind):
    """``x * 0.5`` on N×C×H×W data was 'Affine (6 channels)' in lrp info and --trace, as if
    it held six scales; it says its one value (short enough for --trace's column)."""
    from lrpcore.cli.main import main

    path = _conv_times_scalar(tmp_path / "m.onnx", producer)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{kind} (scalar ×0.5)" in out and "6 channels" not in out
    from lrpcore.graph_layers import Affine

    assert Affine(np.array([2.0, 2.0]), np.array([-0.1, -0.1])).describe() == \
        "Affine (scalar ×2 −0.1)"
    assert Affine(np.ones(3), np.full(3, 0.25)).describe() == "Affine (scalar +0.25)"
    assert Affine(np.array([1.0, 2.0]), np.zeros(2)).describe() == "Affine (2 channels)"
    with pytest.raises(lrpcore.ShapeError, match=r"takes 2 channels, gets input of shape \(3,\)"):
        Affine(np.full(2, 0.5), np.zeros(2)).output_shape((3,))


def test_lrp_convert_writes_its_own_sidecar_but_not_another_models(tmp_path, capsys):
    """lrp convert writes the output model's sidecar (replacing the output model's own with
    --overwrite), but not one that is also the sidecar of another model beside it."""
    from lrpcore.cli.main import main

    src = tmp_path / "src.npz"
    shutil.copy(MODELS / "mnist-lenet5.npz", src)
    shutil.copy(MODELS / "mnist-lenet5.npz", tmp_path / "other.NPZ")
    (tmp_path / "other.json").write_text(SIDE)
    assert main(["convert", str(src), str(tmp_path / "other.txt"), "--overwrite"]) == 2
    one_line(capsys, "other.json: is the sidecar of the model other.NPZ beside it")
    assert (tmp_path / "other.json").read_text() == SIDE
    assert not (tmp_path / "other.txt").exists()
    assert main(["convert", str(src), str(tmp_path / "out.npz")]) == 0
    assert main(["convert", str(src), str(tmp_path / "out.npz"), "--overwrite"]) == 0


def test_the_sanity_figure_draws_samples_as_every_png_does():
    """lrp sanity's figure drew a digit white on black (its [0, 1] values as gray levels)
    where every other PNG and the explorer draw dark ink on white; a photograph's channels
    were summed into an overexposed gray. The inputs now come from the run as the raw
    images (padding cropped) and are drawn by render.digit."""
    from lrpcore import load_model
    from lrpcore.insight import sanity
    from lrpcore.render.compose import digit, to_uint8

    model = load_model("mnist-lenet5")  # 28×28 digits padded to 32×32
    x = np.zeros((2, 28, 28, 1), np.uint8)
    x[:, 10:18, 12:16] = 255
    result = sanity.cascading_randomisation(model, x, "epsilon:0.01")
    assert result.inputs.shape == (2, 28, 28, 1)
    image = sanity.figure(result, scaling=1)
    cell = to_uint8(digit(result.inputs[0], 1))
    assert (cell[0, 0] == 255).all() and (cell[12, 13] == 0).all()  # white paper, black ink
    rows, cols = np.nonzero((image == cell[12, 13]).all(axis=2))
    assert len(rows) >= 8 * 4  # the ink is in the figure as drawn
    photo = np.zeros((1, 5, 6, 3))
    photo[..., 0] = 1.0  # red
    step = sanity.SanityStep((), (), np.ones(1), np.ones(1), np.zeros((1, 5, 6)))
    red = sanity.figure(sanity.SanityResult("r", 1, (step,), photo, 0.1), scaling=1)
    assert ((red == (255, 0, 0)).all(axis=2)).sum() == 30


def test_lrp_figure_counts_conditional_maps_as_maps_of_their_sample(tmp_path, capsys):
    """lrp figure of lrp concepts' three conditional maps of sample 7 said 'wrote fig.png (3
    samples × 1 colormap)', and its sidecar listed samples 0, 1, 2: one sample's channel
    maps. It says '2 maps of sample 7'; the sidecar names sample 7 per row, the maps'
    positions and their channels."""
    import json

    from lrpcore.cli.main import main

    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", "mnist-sample", "--layer", "convolution1",
                 "--sample", "7", "--top", "3", "--references", "0", "--out", str(out),
                 "--rule", "epsilon:0.01"]) == 0
    channels = json.loads((out / "conditional.npy.json").read_text())["channels"]
    capsys.readouterr()
    fig = tmp_path / "fig.png"
    assert main(["figure", str(out / "conditional.npy"), "--colormap", "bwr", "--index", "0",
                 "--index", "2", "--out", str(fig)]) == 0
    assert "(2 maps of sample 7 × 1 colormap)" in capsys.readouterr().out
    side = json.loads((tmp_path / "fig.png.json").read_text())
    assert side["samples"] == [7, 7] and side["maps"] == [0, 2]
    assert side["channels"] == [channels[0], channels[2]]
    digits = tmp_path / "d.npy"
    np.save(digits, np.zeros((3, 28, 28)))
    assert main(["figure", str(digits), "--colormap", "bwr", "--out", str(tmp_path / "g.png")]) \
        == 0
    assert "(3 samples × 1 colormap)" in capsys.readouterr().out
    assert json.loads((tmp_path / "g.png.json").read_text())["samples"] == [0, 1, 2]


def _png_width(path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return im.size[0]


def test_photographs_are_drawn_at_scaling_1_and_digits_at_3(tmp_path, capsys):
    """lrp explain --png and lrp render drew photographs at the digits' --scaling 3 (a
    224×224 photograph became a 1,346-pixel-wide PNG), where the explorer shows them at 1:
    without --scaling every command and export takes the explorer's rule (3 up to 96 pixels
    a side, 1 beyond); --scaling still picks any factor."""
    import json

    from lrpcore.cli.main import main
    from lrpcore.export import export_input_heatmap

    model = _conv_times_scalar(tmp_path / "photo.onnx", "pytorch", side=100)
    photos = tmp_path / "photos.npy"
    np.save(photos, np.random.default_rng(0).integers(0, 255, (2, 100, 100, 3), np.uint8))
    for extra, width, scaling in (([], 202, 1), (["--scaling", "2"], 402, 2)):
        png = tmp_path / f"png{scaling}"
        assert main(["explain", str(model), str(photos), "--out", str(tmp_path / "R.npy"),
                     "--png", str(png), "--overwrite"] + extra) == 0
        assert _png_width(png / "heatmap_0_bwr.png") == width  # input | 2 px | heatmap
        assert json.loads((png / "heatmap_0_bwr.png.json").read_text())["scaling"] == scaling
    assert main(["render", str(tmp_path / "R.npy"), "--out", str(tmp_path / "r.png")]) == 0
    assert _png_width(tmp_path / "r.png") == 100
    digits = tmp_path / "digits.npy"
    np.save(digits, np.zeros((1, 28, 28), np.uint8))
    assert main(["explain", "mnist-lenet5", str(digits), "--out", str(tmp_path / "D.npy"),
                 "--png", str(tmp_path / "d")]) == 0
    assert _png_width(tmp_path / "d" / "heatmap_0_bwr.png") == 3 * 32 * 2 + 2
    assert main(["render", str(tmp_path / "D.npy"), "--out", str(tmp_path / "d.png")]) == 0
    assert _png_width(tmp_path / "d.png") == 3 * 32
    path = export_input_heatmap(tmp_path / "e.png", np.ones((224, 224, 3)), np.zeros((224, 224,
                                                                                      3)))
    assert _png_width(path) == 450  # the explorer's exports follow the rule too
    capsys.readouterr()
    for command in ("explain", "render"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "1 for photographs, as the explorer shows them" in " ".join(
            capsys.readouterr().out.split())


@pytest.mark.parametrize("proc", ["absent", "garbled"])
def test_usable_cores_counts_every_core_free_without_a_readable_proc(monkeypatch, tmp_path,
                                                                      proc):
    """On a platform without /proc (macOS, Windows) every core counts as free and passes
    run as before; a /proc/stat of another format (a compatibility layer's) raised
    ValueError inside the pass that asked."""
    import builtins

    from lrpcore import cpu_load

    real_open, real_listdir = builtins.open, cpu_load.os.listdir
    garbled = tmp_path / "stat"
    garbled.write_text("cpu  n/a\ncpu0 busy idle - -\ncpux 1 2 3\n", encoding="ascii")

    def fake_open(path, *args, **kwargs):
        if str(path).startswith("/proc"):
            if proc == "garbled" and str(path) == "/proc/stat":
                return real_open(garbled, *args, **kwargs)
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_open(path, *args, **kwargs)

    def fake_listdir(path):
        if str(path).startswith("/proc"):
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_listdir(path)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(cpu_load.os, "listdir", fake_listdir)
    monkeypatch.delenv("LRP_IGNORE_CPU_LOAD", raising=False)
    monkeypatch.setattr(cpu_load, "_share", cpu_load.CpuShare())
    for _ in range(2):  # before a first window, and asked again
        monkeypatch.setattr(cpu_load, "_answer", (0.0, 1))
        assert cpu_load.usable_cores() == len(cpu_load.cpu_set())
    assert cpu_load._own_runnable() == 1 and cpu_load._runnable_now() is None


def test_lrp_bench_marks_floors_too_small_to_measure_the_engine(tmp_path, capsys):
    """lrp bench on a tiny model of one's own printed ×floor 401 with nothing to say that
    it is Python's fixed cost per layer, not the engine's arithmetic: such rows (floor under
    1 ms) are marked, a note under the table says why, and the JSON flags them."""
    import json

    from lrpcore.bench import BenchRow, format_row
    from lrpcore.cli.main import main

    model = _conv_times_scalar(tmp_path / "tiny.onnx", "pytorch")
    out = tmp_path / "bench.json"
    assert main(["bench", "--models", str(model), "--batch-sizes", "1", "--repeat", "1",
                 "--dtypes", "float32", "--rules", "epsilon:0.01", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("tiny.onnx"))
    assert row.endswith("*") and "* floor under 1 ms: a model this small" in text
    assert json.loads(out.read_text())["rows"][0]["overhead_bound"] is True
    big = BenchRow("lenet5", "numpy", "float32", 256, 45.0, {"epsilon": 50.0}, 2500, 42, 18.5)
    assert not big.overhead_bound and not format_row(big).endswith("*")
