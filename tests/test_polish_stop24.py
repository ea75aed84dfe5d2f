"""Polish of stop 24: small defects reviewers found in the command line and the library."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrpcore.cli.main import main

MODELS = Path(__file__).resolve().parents[1] / "models"


def lrp(*args, capsys):
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # an option argparse refuses
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_a_folder_of_arrays_names_the_array_to_pass(tmp_path, capsys):
    # `lrp explain MODEL FOLDER/` on a folder of .npy files said only "no PNG or JPEG images
    # found", not that the samples were there, in a file to give itself
    folder = tmp_path / "arrays"
    folder.mkdir()
    np.save(folder / "x.npy", np.zeros((2, 28, 28, 1), np.uint8))
    out = tmp_path / "R.npy"
    code, _, err = lrp("explain", MODELS / "mnist-lenet5.npz", f"{folder}/", "--out", out,
                       capsys=capsys)
    assert code != 0 and not out.exists()
    assert "no PNG or JPEG images" in err and "x.npy" in err
    assert str(folder / "x.npy") in err and "itself" in err


@pytest.mark.parametrize("spec, said", [
    ("epsilon:x", "epsilon: ε must be a number, got 'x'"),
    ("gamma:-1", "gamma: γ must be ≥ 0, got -1"),
    ("alphabeta:inf", "alphabeta: α must be finite, got inf"),
])
def test_rule_parameter_errors_read_naturally(spec, said):
    # "epsilon parameter epsilon (ε) must be a number": the rule and parameter named thrice
    from lrpcore.errors import RuleError
    from lrpcore.rules import parse_rule

    with pytest.raises(RuleError) as caught:
        parse_rule(spec)
    assert str(caught.value) == said


def test_figure_rows_name_the_class_every_map_was_explained_for(tmp_path, capsys):
    # `lrp explain ... --target 3` then `lrp figure`: the rows said "sample 0" (no labels) or
    # "sample 0 · class 7" (its label), never that the maps show the relevance for class 3
    from lrpcore.cli.render_sources import RelevanceFile
    from lrpcore.io.datasets import open_dataset

    x = tmp_path / "x.npy"
    np.save(x, open_dataset("mnist-sample").images(np.arange(2)))
    for target, said in (("3", "relevance for class 3"), ("pred", None)):
        out = tmp_path / f"R-{target}.npy"
        code, _, _ = lrp("explain", MODELS / "mnist-lenet5.npz", x, "--target", target,
                         "--out", out, capsys=capsys)
        assert code == 0
        titles = [RelevanceFile(str(out)).row_title(i) for i in range(2)]
        if said is None:  # a class per sample (its prediction): none named for all
            assert titles == ["sample 0", "sample 1"]
        else:
            assert titles == [f"sample 0 · {said}", f"sample 1 · {said}"]


def test_the_readme_names_every_file_lrp_concepts_writes(tmp_path, capsys):
    # references/references.npz (the reference samples of every channel) went unmentioned
    import re

    out = tmp_path / "c"
    code, _, _ = lrp("concepts", MODELS / "mnist-lenet5.npz", "mnist-sample", "--layer",
                     "convolution1", "--sample", "7", "--top", "1", "--references", "1",
                     "--out", out, capsys=capsys)
    assert code == 0
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    written = {p.relative_to(out).as_posix() for p in out.rglob("*")
               if p.is_file() and not p.name.endswith(".json")}
    assert "references/references.npz" in written
    for name in written:  # as the README writes the numbered ones
        name = re.sub(r"conditional_\d+_ch\d+", "conditional_<rank>_ch<c>", name)
        name = re.sub(r"channel_\d+", "channel_<c>", name)
        assert f"`{name}`" in readme or f"`c/{name}`" in readme, name
