"""What `lrp explain --help` and `lrp info --help` tell a new user about their arguments: the
README runs `lrp explain efficientnet-lite0 natural-images`, but the help named neither a
bundled model nor `natural-images`, and said --target true "needs --labels" (a dataset's own
labels serve)."""

from __future__ import annotations

import re

import pytest

from lrpcore.cli.main import main


def _joined(text):
    """Help text on one line, words argparse wrapped at a hyphen joined again."""
    return " ".join(re.sub(r"-\n\s*", "-", text).split())


def _help(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return _joined(capsys.readouterr().out)


def test_explain_help_names_what_the_readme_runs(capsys):
    text = _help(capsys, "explain")
    for words in ("efficientnet-lite0", "natural-images", "PNG/JPEG photograph",
                  "true (the dataset's labels or --labels)",
                  "the sample's image file when INPUT is photographs"):
        assert words in text, words
    assert "needs --labels" not in text


@pytest.mark.parametrize("command", ["info", "evaluate"])
def test_model_arguments_name_the_bundled_models(capsys, command):
    assert "bundled model's name (mnist-lenet5, efficientnet-lite0)" in _help(capsys, command)


def test_explorer_help_names_the_models_and_data_of_the_readme(capsys):
    """`lrp-explorer --help` said "model file (.npz native, .txt toolbox, ...)" and "dataset file
    or name (mnist-sample, mnist-test, ...)", while the README opens `--model efficientnet-lite0
    --dataset natural-images`."""
    from lrpgui.app import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = _joined(capsys.readouterr().out)
    for words in ("efficientnet-lite0", "natural-images", "image folder", "PNG/JPEG photograph"):
        assert words in text, words


def test_data_info_help_names_every_built_in_dataset(capsys):
    """`lrp data info --help` named mnist-sample / mnist-train / mnist-test, not
    natural-images (nor that one photograph is a dataset)."""
    from lrpcore.io.datasets import DATASET_NAMES

    with pytest.raises(SystemExit):
        main(["data", "info", "--help"])
    text = _joined(capsys.readouterr().out)
    assert all(name in text for name in DATASET_NAMES) and "PNG/JPEG photograph" in text
    # an .npz (images and labels in one file) opened but went unnamed
    assert "file (.npy, .npz, IDX, .mat, .txt, a PNG/JPEG photograph)" in text


def test_the_readme_command_overview_lists_every_command():
    """The README's "Command line" overview left out sweep, sanity, concepts and spray, which
    a reader of that block would not know to exist (`lrp --help` lists them)."""
    from pathlib import Path

    from lrpcore.cli.main import COMMANDS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Command line\n\n```bash\n(.*?)```", readme, re.S).group(1)
    listed = set(re.findall(r"(?m)^lrp ([a-z]+)\b", block))
    assert set(COMMANDS) - listed == set()
