"""Stop 24's acceptance review as a new user: each test is a defect found by following the
README, and fails without its fix."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.cli.main import main


@pytest.mark.parametrize("command", ["render", "figure"])
def test_digits_beside_a_photographs_maps_are_refused(command, tmp_path, capsys):
    """`lrp render R285.npy --input digits.npy` drew the 28×28 digit as a speck centred on
    the photograph's 224×224 heatmap (and recorded the digits as its input): the border is
    no padding of any model. LeNet-5's 28 → 32 (a border of 2) still fits."""
    r = tmp_path / "R285.npy"
    np.save(r, np.random.default_rng(0).normal(size=(2, 3, 224, 224)).astype(np.float32))
    x = tmp_path / "d_images.npy"
    np.save(x, np.random.default_rng(1).integers(0, 256, (2, 784), dtype=np.uint8))
    out = tmp_path / "out.png"
    assert main([command, str(r), "--input", str(x), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "28×28" in err and "224×224" in err and "do not fit" in err
    assert not out.exists() and not (tmp_path / "out.png.json").exists()

    lenet = tmp_path / "R32.npy"  # the toolbox LeNet-5's padded maps: the digit is centred
    np.save(lenet, np.random.default_rng(2).normal(size=(2, 32, 32, 1)))
    assert main([command, str(lenet), "--input", str(x), "--out", str(out)]) == 0
    assert out.exists()


def test_figure_text_draws_no_missing_glyph_boxes():
    """Pillow's built-in font has no Greek: every sanity plot titled its columns "Spearman
    |▯|". What figures write beyond Latin letters is spelled with letters the font has."""
    from lrpcore.render import font

    if font._font(font.FONT_PX) is None:
        pytest.skip("Pillow without FreeType draws the bitmap font")
    box = font.text_coverage("\U0010fffd", 2)  # a private code point: the missing glyph
    for ch in "ρεαβγΣ×→≥−é":
        cover = font.text_coverage(ch, 2)
        assert cover.shape != box.shape or not np.array_equal(cover, box), ch
    h, w = font.text_size("Spearman |ρ|")
    assert font.text_coverage("Spearman |ρ|").shape == (h, w)  # measured as drawn


@pytest.mark.parametrize(("typed", "meant"), [("EpsilonPlsu", "EpsilonPlus"),
                                              ("epsilonn", "epsilon"),
                                              ("alpha-beta", "alphabeta"),
                                              ("epsilon_gamma_box", "EpsilonGammaBox")])
def test_a_mistyped_rule_names_the_rule_meant(typed, meant, tmp_path, capsys):
    """`--rule EpsilonPlsu` listed every rule name without the presets' and left the user to
    find the typo; the closest rule or preset is now named."""
    x = tmp_path / "d_images.npy"
    np.save(x, np.zeros((1, 784), dtype=np.uint8))
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy"),
                 "--rule", typed]) == 2
    err = capsys.readouterr().err
    assert f"unknown rule '{typed}' (did you mean {meant}?)" in err
    assert not (tmp_path / "R.npy").exists()


def test_floats_of_0_to_1_are_told_what_raw_takes(tmp_path, capsys):
    """ToTensor's 0…1 digits given to LeNet-5 were told "add --raw to feed them as they
    are": with --raw the 28×28 digits do not fit the padded 32×32 input at all. The warning
    names what --raw feeds, and the raw range to scale to."""
    x = tmp_path / "tensor_digits.npy"
    np.save(x, np.random.default_rng(0).random((2, 784)).astype(np.float32))
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy")]) == 0
    warning = next(line for line in capsys.readouterr().err.splitlines()
                   if "look preprocessed" in line)
    assert "(32×32×1 in [-1, 1])" in warning and "raw range [0, 255]" in warning


def test_convert_to_txt_says_what_its_sidecar_holds(tmp_path, capsys):
    """`lrp convert mnist-lenet5 lenet.txt` said it wrote "input specification and metadata"
    to lenet.json, which holds none (the layers imply it: `lrp info lenet.txt` then said
    "guessed from the layers"). It says what the sidecar holds."""
    import json
    import shutil
    from pathlib import Path

    assert main(["convert", "mnist-lenet5", str(tmp_path / "plain.txt")]) == 0
    out = capsys.readouterr().out
    assert "input" not in json.loads((tmp_path / "plain.json").read_text())
    assert "plain.json: metadata (" in out and "input specification and" not in out

    own = tmp_path / "own.npz"  # a sidecar that moves the input scaling: it must travel along
    shutil.copy(Path(__file__).resolve().parents[1] / "models" / "mnist-lenet5.npz", own)
    (tmp_path / "own.json").write_text('{"input": {"divide": 255, "offset": 0}}')
    assert main(["convert", str(own), str(tmp_path / "sub.txt")]) == 0
    assert "input" in json.loads((tmp_path / "sub.json").read_text())
    assert "sub.json: input specification and metadata" in capsys.readouterr().out


def test_convert_says_arch_is_not_applied_to_a_model_with_its_own(tmp_path, capsys):
    """`lrp convert net.npz out.npz --arch efficientnet-lite0` converted the model as it was
    and said nothing of --arch: a user expecting it applied learnt nothing."""
    out = tmp_path / "out.npz"
    assert main(["convert", "mnist-lenet5", str(out), "--arch", "efficientnet-lite0"]) == 0
    err = capsys.readouterr().err
    assert "--arch efficientnet-lite0" in err and "converted as it is" in err
    assert out.exists()
    assert main(["convert", "mnist-lenet5", str(tmp_path / "plain.npz")]) == 0
    assert capsys.readouterr().err == ""


def test_a_model_input_given_to_a_command_without_raw_is_not_told_to_add_it(tmp_path, capsys):
    """lrp concepts on N×C×H×W samples said 'or --raw on the command line', an option it
    does not have (only explain and evaluate do)."""
    from pathlib import Path

    import numpy as np

    from lrpcore.cli.main import main

    zoo = Path(__file__).resolve().parent / "data" / "zoo"
    x = tmp_path / "x.npy"
    np.save(x, np.load(zoo / "convnext.npz")["x"])
    code = main(["concepts", str(zoo / "convnext_dynamo.onnx"), str(x), "--layer",
                 "node_add_1", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and "model's own C×H×W input" in err
    assert "add --raw" in err  # which lrp concepts now has (stop 25)
    assert "--raw on the command line" not in err
    code = main(["concepts", str(zoo / "convnext_dynamo.onnx"), str(x), "--raw", "--layer",
                 "node_add_1", "--out", str(tmp_path / "c"), "--references", "0"])
    assert code == 0, capsys.readouterr().err
