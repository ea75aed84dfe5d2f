"""Findings of a hostile review (issue 14), each with the input that broke a promise: every
refusal is one short line naming the file (exit 2), and nothing is replaced or mixed up."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from lrpcore.cli.main import main


def _digits(path, n=3):
    np.save(path, np.random.default_rng(0).integers(0, 255, (n, 28, 28), dtype=np.uint8))
    return path


def test_two_outputs_naming_one_file_are_refused_before_computing(tmp_path, capsys):
    """``--out a.npy --outputs a.npy`` wrote the model outputs over the relevance, exit 0."""
    x = _digits(tmp_path / "x.npy")
    for outputs in ("a.npy", "a.npy.json"):  # the file itself, or the other's sidecar
        rc = main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "a.npy"),
                   "--outputs", str(tmp_path / outputs)])
        err = capsys.readouterr().err
        assert rc == 2 and "named for two outputs" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def _archive_of_many_members(path):
    """A crafted .npz of 20,000 tiny members, whose names no one-line error may list."""
    member = io.BytesIO()
    np.save(member, np.zeros(4, np.float32))
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(20000):
            zf.writestr(f"member{i}.npy", member.getvalue())


def test_an_archive_of_many_members_is_named_in_a_short_line(tmp_path, capsys):
    """An error listed all 20,000 member names of a crafted .npz in its one line."""
    bad = tmp_path / "many.npz"
    _archive_of_many_members(bad)
    rc = main(["data", "info", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and "20,000 in all" in err and len(err) < 400


def _folding_bomb(path, op):
    """A few hundred bytes of ONNX whose shape arithmetic builds a 16-M-value constant of
    zeros (ConstantOfShape), then asks Gather or Concat for thousands of times that."""
    import onnx
    from onnx import TensorProto, helper

    big = [helper.make_node("Constant", [], ["s"], value=helper.make_tensor(
               "v", TensorProto.INT64, [2], [4096, 4096])),
           helper.make_node("ConstantOfShape", ["s"], ["z"])]
    if op == "Gather":
        big += [helper.make_node("Cast", ["z"], ["zi"], to=TensorProto.INT64),
                helper.make_node("Gather", ["z", "zi"], ["g"], axis=0)]
    else:
        big += [helper.make_node("Concat", ["z"] * 2000, ["g"], axis=0)]
    nodes = big + [helper.make_node("Shape", ["g"], ["gs"]),
                   helper.make_node("Flatten", ["x"], ["f"]),
                   helper.make_node("Gemm", ["f", "W"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [helper.make_tensor("W", TensorProto.FLOAT, [784, 10], [0.01] * 7840)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


@pytest.mark.parametrize("op", ["Gather", "Concat"])
def test_onnx_shape_arithmetic_is_refused_before_it_allocates(tmp_path, op):
    """A Gather of constants asked numpy for 512 GiB (an internal MemoryError)."""
    pytest.importorskip("onnx")
    from lrpcore import ModelFormatError, load_model

    path = _folding_bomb(tmp_path / "bomb.onnx", op)
    with pytest.raises(ModelFormatError, match=f"bomb.onnx: node . .*{op} of constants would "
                                               "make"):
        load_model(path)


def test_a_sidecar_accuracy_of_nan_is_refused(tmp_path):
    """Python's json reads NaN; a model sidecar's accuracy of NaN was kept as metadata."""
    import shutil

    from lrpcore import ModelFormatError, load_model
    from lrpcore.bundled import MODELS_DIR

    shutil.copy(MODELS_DIR / "mnist-lenet5.npz", tmp_path / "m.npz")
    (tmp_path / "m.json").write_text('{"accuracy": {"test": NaN}}')
    with pytest.raises(ModelFormatError, match="m.json: 'accuracy' must be"):
        load_model(tmp_path / "m.npz")


def test_sidecars_written_stay_strict_json_with_non_finite_values(tmp_path):
    """A NaN in provenance or a diagnosis was written as the bare token NaN (not JSON)."""
    import json

    from lrpcore.export import write_sidecar

    side = write_sidecar(tmp_path / "R.npy", {"score": float("nan"),
                                              "ratio": np.float32("inf")})

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    data = json.loads(side.read_text(), parse_constant=refuse)
    assert data["score"] == "nan" and data["ratio"] == "inf"


@pytest.mark.parametrize("command, name, kind", [
    (["info"], "model.nn", "link to /dev/zero"), (["info"], "model.onnx", "named pipe"),
    (["data", "info"], "digits.npy", "named pipe"),
    (["data", "info"], "labels.mat", "link to /dev/zero")])
def test_a_device_or_pipe_posing_as_a_file_is_refused_at_once(tmp_path, command, name, kind):
    """A crafted archive may unpack ``model.nn -> /dev/zero``: it was read until memory ran
    out (a named pipe blocked forever). The child runs with a memory cap and a timeout."""
    import os
    import resource
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / name
    if kind == "named pipe":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "lrpcore.cli.main", *command, str(path)],
                          cwd=repo, capture_output=True, text=True, timeout=120,
                          preexec_fn=cap, env={**os.environ, "PYTHONPATH": str(repo)})
    assert proc.returncode == 2, proc.stderr
    assert "is a device or pipe, not a file" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _sparse_npy(path, shape, descr):
    """A valid .npy of ``shape`` that takes no disk space (a sparse file of zeros)."""
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": descr, "fortran_order": False,
                                                "shape": shape})
    with open(path, "wb") as fh:
        fh.write(head.getvalue())
        fh.truncate(len(head.getvalue()) + int(np.prod(shape)) * np.dtype(descr).itemsize)
    return path


def test_a_valid_input_too_large_for_memory_is_one_line_not_an_internal_error(tmp_path):
    """A 10 GB relevance map rendered under a 2 GB memory cap ended in 'internal error:
    MemoryError ... This is a bug'; it is a clear one-line refusal (exit 2)."""
    import os
    import resource
    import subprocess
    import sys
    from pathlib import Path

    r = _sparse_npy(tmp_path / "R.npy", (1, 50000, 50000), "<f4")
    x = _sparse_npy(tmp_path / "X.npy", (1, 50000, 50000), "|u1")

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "lrpcore.cli.main", "render", str(r),
                           "--input", str(x), "--out", str(tmp_path / "o.png")], cwd=repo,
                          capture_output=True, text=True, timeout=300, preexec_fn=cap,
                          env={**os.environ, "PYTHONPATH": str(repo)})
    assert proc.returncode == 2, proc.stderr
    assert "out of memory" in proc.stderr and "bug" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()


def test_a_hostile_relevance_sidecar_does_not_stop_a_render(tmp_path, capsys):
    """``R.npy.json`` nested 200,000 deep ended 'lrp render' in an internal RecursionError."""
    import json

    np.save(tmp_path / "R.npy", np.random.default_rng(0).standard_normal((2, 28, 28)))
    np.save(tmp_path / "X.npy", np.zeros((2, 28, 28), np.uint8))
    (tmp_path / "R.npy.json").write_text("[" * 200000)
    rc = main(["render", str(tmp_path / "R.npy"), "--input", str(tmp_path / "X.npy"),
               "--out", str(tmp_path / "o.png")])
    assert rc == 0, capsys.readouterr().err
    side = json.loads((tmp_path / "o.png.json").read_text())
    assert "R.npy.json: unreadable" in side["relevance_sidecar_error"]


@pytest.mark.parametrize("alpha", [float("inf"), float("nan"), 1e38])
def test_a_sequential_onnx_gemm_with_an_absurd_alpha_is_refused_at_load(tmp_path, alpha):
    """The graph importer refused it, the sequential one loaded inf weights; the explanation
    then blamed the input ("outputs are not finite ... input values too large")."""
    pytest.importorskip("onnx")
    import onnx
    from onnx import TensorProto, helper

    from lrpcore import ModelFormatError, load_model

    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["f"]),
         helper.make_node("Gemm", ["f", "W"], ["y"], alpha=alpha)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [helper.make_tensor("W", TensorProto.FLOAT, [784, 10], [0.01] * 7840)])
    path = tmp_path / "gemm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    with pytest.raises(ModelFormatError, match="gemm.onnx: node 1 .*Gemm alpha = .* usable"):
        load_model(path)


def test_an_onnx_graph_whose_activations_explode_is_refused_at_load(tmp_path):
    """A 1-KB graph of 24 doubling Concats loaded, and its first explanation asked for 105 GB
    per sample; what its layers' outputs need is checked when it is read."""
    pytest.importorskip("onnx")
    import onnx
    from onnx import TensorProto, helper

    from lrpcore import ModelFormatError, load_model

    nodes, cur = [], "x"
    for i in range(24):
        nodes.append(helper.make_node("Concat", [cur, cur], [f"c{i}"], axis=1))
        cur = f"c{i}"
    nodes += [helper.make_node("GlobalAveragePool", [cur], ["g"]),
              helper.make_node("Flatten", ["g"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1 << 24])])
    path = tmp_path / "doubling.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    with pytest.raises(ModelFormatError, match="doubling.onnx: its layers' outputs hold "
                                               "26,340,227,552 values per sample"):
        load_model(path)


@pytest.mark.parametrize("sidecar", ["[1]", '{"input": {"a": 1}}', '{"dataset": 5}'])
def test_a_relevance_sidecar_of_the_wrong_shape_does_not_stop_a_render(tmp_path, capsys,
                                                                       sidecar):
    """A sidecar that is a list, or names its input with an object, ended 'lrp render' in an
    internal AttributeError or TypeError."""
    np.save(tmp_path / "R.npy", np.random.default_rng(0).standard_normal((2, 28, 28)))
    (tmp_path / "R.npy.json").write_text(sidecar)
    rc = main(["render", str(tmp_path / "R.npy"), "--out", str(tmp_path / "o.png")])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "o.png").exists()


def test_render_names_a_few_members_of_a_crafted_archive(tmp_path, capsys):
    """'lrp render R.npz' listed all 20,000 member names of an archive in its one line."""
    bad = tmp_path / "R.npz"
    _archive_of_many_members(bad)
    for spec in (str(bad), f"{bad}:nothing"):
        rc = main(["render", spec, "--out", str(tmp_path / "o.png")])
        err = capsys.readouterr().err
        assert rc == 2 and "20,000 in all" in err and len(err) < 500
