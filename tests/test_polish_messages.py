"""Small wording and refusal fixes found by this session's reviewers (one test each)."""

from __future__ import annotations

import numpy as np
import pytest
from colour_models import colour_graph_model

import lrpcore
from lrpcore.cli.main import main
from lrpcore.errors import RuleError


def test_zb_without_bounds_on_a_hidden_layer_is_refused(lenet, lenet_txt, tmp_path, capsys):
    """``--layer-rule '*=zb'`` put zB, with the input's bounds, on every hidden layer without a
    word: zB without bounds is for the layers that read the model's input."""
    graph = colour_graph_model()
    x = np.random.default_rng(0).integers(0, 256, (1, 16, 16, 3), dtype=np.uint8)
    lrpcore.explain(graph, x, layer_rules={"stem": "zb", "dw": "zb:-1:7"})  # first; explicit
    with pytest.raises(RuleError, match="layer 5 'dw'.*does not read the model's input"):
        lrpcore.explain(graph, x, layer_rules={"*": "zb"})
    with pytest.raises(RuleError, match="layer 2 .*does not read the model's input"):
        lrpcore.resolve_rules(lenet.analysis_layers(), "epsilon", {"*": "zb"})
    assert "0=zb" in lrpcore.resolve_rules(lenet.analysis_layers(), None, {0: "zb"}).description
    np.save(tmp_path / "x.npy", np.zeros((1, 28, 28, 1), dtype=np.float32))
    capsys.readouterr()
    assert main(["explain", str(lenet_txt), str(tmp_path / "x.npy"), "--layer-rule", "*=zb",
                 "--out", str(tmp_path / "R.npy")]) == 2
    err = capsys.readouterr().err
    assert "does not read the model's input" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "R.npy").exists()


def test_wrong_checkpoint_gemm_weights_and_label_counts_read_well(tmp_path):
    """"not a efficientnet-lite0 state dict"; a Gemm with 1-d weights ended in "malformed
    (IndexError: tuple index out of range)"; labels inside ``ds1.npz`` of another count were
    named by the base name only, where other errors give the path as the user typed it."""
    pytest.importorskip("onnx")
    import onnx
    from hostile_files import save_onnx_graph, save_pth_state_dict

    from lrpcore.errors import DatasetError, ModelFormatError
    from lrpcore.io.imagenet import build_from_checkpoint

    pth = save_pth_state_dict(tmp_path / "w.pth", {"fc.weight": np.zeros(3, np.float32)})
    with pytest.raises(ModelFormatError, match=r"w\.pth: not a state dict of efficientnet-lite0"):
        build_from_checkpoint(pth)
    W = onnx.numpy_helper.from_array(np.ones(4, np.float32), "W")
    gemm = onnx.helper.make_node("Gemm", ["x", "W"], ["y"], name="head")
    path = save_onnx_graph(tmp_path / "g.onnx", [gemm], [W], [1, 4], [1, 4])
    with pytest.raises(ModelFormatError) as err:
        lrpcore.load_model(path)
    assert "'head'" in str(err.value) and "1-d" in str(err.value)
    assert "IndexError" not in str(err.value)
    sub = tmp_path / "sub"
    sub.mkdir()
    np.savez(sub / "ds1.npz", x=np.zeros((5, 4, 4, 1), np.uint8), y=np.arange(3))
    given = str(sub / "ds1.npz")
    with pytest.raises(DatasetError, match=f"^{given}: 3 labels for 5 samples"):
        lrpcore.open_dataset(given)
