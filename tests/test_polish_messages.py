"""Small wording and refusal fixes found by this session's reviewers (one test each)."""

from __future__ import annotations

import numpy as np
import pytest
from cli_help import help_words
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


def test_repr_of_a_folder_of_photographs_of_several_sizes(tmp_path):
    """``open_dataset("photos")`` printed ``3 × 512×512×3`` (the first image's shape) for
    photographs of three sizes."""
    from colour_models import write_photos

    folder = write_photos(tmp_path / "photos", sizes=((40, 30), (20, 26), (16, 16)))
    text = repr(lrpcore.open_dataset(str(folder)))
    assert "3 images of different sizes (16×16 to 30×40)" in text and "3 × 30×40" not in text
    fitted = repr(lrpcore.open_dataset(str(folder), model=colour_graph_model()))
    assert "3 × 16×16×3" in fitted


def test_photographs_that_do_not_fit_say_how_to_fit_them(tmp_path, lenet):
    """``explain(model, open_dataset(folder).images([0]))`` of a model that resizes
    photographs said only "do not fit"; the folder's stacking error says to open it with the
    model. Both now give the same remedy; a model that resizes nothing gets no such hint."""
    from colour_models import write_photos

    from lrpcore.errors import DatasetError, ShapeError
    from lrpcore.spec import PHOTOS_HINT

    ds = lrpcore.open_dataset(str(write_photos(tmp_path / "photos")))
    with pytest.raises(ShapeError) as err:
        lrpcore.explain(colour_graph_model(), ds.images([0]))
    assert "do not fit" in str(err.value) and PHOTOS_HINT in str(err.value)
    with pytest.raises(DatasetError) as err:
        ds.images([0, 1])
    assert "same size" in str(err.value) and PHOTOS_HINT in str(err.value)
    with pytest.raises(ShapeError) as err:
        lrpcore.explain(lenet, np.zeros((1, 30, 30, 1)))
    assert "open_dataset" not in str(err.value)


def test_info_says_how_to_name_unnamed_outputs(lenet_txt, capsys):
    """``lrp info`` said "1000 outputs, unnamed" with no word on how to name them."""
    assert main(["info", str(lenet_txt), "--no-sidecar"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("classes:"))
    assert "10 outputs, unnamed" in line and '"class_names"' in line and "LeNet-5.json" in line


def test_explain_help_says_input_may_be_any_dataset(capsys):
    """``lrp explain --help`` said "samples of INPUT (.npy)" though INPUT may be any dataset
    file, a folder of images or a built-in name."""
    text = help_words(capsys, ["explain"])
    assert "INPUT (.npy)" not in text and "a folder of images or a built-in dataset name" in text
