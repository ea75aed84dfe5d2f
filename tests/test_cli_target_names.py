"""`lrp explain` names the class a class-index target explains."""

from __future__ import annotations

from lrpcore.cli.main import main


def test_explain_names_a_class_target_in_its_output_and_sidecar(tmp_path, capsys):
    """`--target 7` of a model with class names: the summary line and the R.npy sidecar name
    the class (they gave only the index)."""
    import json

    import numpy as np
    from colour_models import NAMES, colour_graph_model

    import lrpcore

    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(16), model)
    np.save(tmp_path / "x.npy", np.zeros((1, 16, 16, 3), np.uint8))
    assert main(["explain", str(model), str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "R.npy"), "--target", "7"]) == 0
    assert "(target 7: Egyptian cat)" in capsys.readouterr().out
    side = json.loads((tmp_path / "R.npy.json").read_text())
    assert side["explained_name"] == NAMES[7] == "Egyptian cat"

