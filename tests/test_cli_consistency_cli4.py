"""One wording for what several ``lrp`` commands say about the same thing (stop 26, cli4)."""
from __future__ import annotations

import numpy as np
import pytest
from cli_help import help_words
from local_store import lenet_store_of_random_digits

from lrpcore.cli.main import main


def nan_at_33(tmp_path, raw):
    """40 samples, sample 33 not finite: digits with a NaN, or (``raw``) arrays in LeNet-5's
    own 32×32×1 layout with an infinity, which the engine's check met first."""
    if raw:
        x = np.random.RandomState(0).uniform(-1, 1, (40, 32, 32, 1))
        x[33, 3, 3, 0] = np.inf
    else:
        x = np.random.RandomState(0).randint(0, 255, (40, 28, 28)).astype(np.float64)
        x[33, 3, 3] = np.nan
    path = tmp_path / ("fed.npy" if raw else "digits.npy")
    np.save(path, x)
    return path


NAN_REFUSALS = [
    ["explain", "--out", "{out}.npy", "--batch-size", "8"],
    ["evaluate", "--batch-size", "8"],
    ["concepts", "--layer", "convolution1", "--references", "2", "--out", "{out}"],
    ["spray", "--out", "{out}.npz"],
    ["sweep", "--rule", "z", "--csv", "{out}.csv"],
]


@pytest.mark.parametrize("raw", [False, True])
@pytest.mark.parametrize("command", NAN_REFUSALS)
def test_nan_refusals_name_the_file_and_its_first_sample_in_one_wording(
        tmp_path, capsys, command, raw):
    """explain, evaluate and concepts said 'samples contain NaN or infinite values' (no
    index; explain added the batch's range), spray, sweep, sanity and demo 'sample 33
    contains NaN…': the same file was refused in two wordings. With --raw the check was the
    engine's: 'FILE (samples 32..39): input contains NaN or infinite values' (explain),
    'FILE: input contains NaN…' (evaluate)."""
    path = nan_at_33(tmp_path, raw)
    out = tmp_path / "out"
    argv = [command[0], "mnist-lenet5", str(path), *(["--raw"] if raw else [])] + [
        a.format(out=out) for a in command[1:]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"lrp {command[0]}: error: {path}: sample 33 contains NaN or infinite " \
        "values", err
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize("per_sample", [(729,), (27, 27)])
@pytest.mark.parametrize("command", [
    ["explain", "--out", "{out}.npy"],
    ["evaluate"],
    ["spray", "--out", "{out}.npz"],
    ["sweep", "--rule", "epsilon", "--csv", "{out}.csv"],
])
def test_a_files_sample_shape_is_described_alike_by_every_command(tmp_path, capsys, command,
                                                                  per_sample):
    """The same .npy's samples were '729' (or '27×27') in explain and evaluate but
    '27×27×1' in spray, sweep and demo (which read them as images)."""
    path = tmp_path / "digits.npy"
    np.save(path, np.random.RandomState(0).randint(0, 255, (3,) + per_sample).astype(float))
    out = tmp_path / "out"
    argv = [command[0], "mnist-lenet5", str(path)] + [a.format(out=out) for a in command[1:]]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert f"{path}: samples of shape 27×27×1 do not fit the model" in err, err
    assert not list(tmp_path.glob("out*"))




@pytest.mark.parametrize("argv", [["explain"], ["evaluate"], ["concepts"], ["spray"],
                                  ["sweep"], ["sanity"], ["demo"], ["train"],
                                  ["data", "info"]])
def test_every_labels_option_names_the_formats_the_label_reader_takes(capsys, argv):
    """demo's --labels said '.npy' only, spray's named no format and data info's left out
    .npz and one-hot rows, though all of them read labels with the same reader."""
    text = help_words(capsys, argv)
    assert "(.npy, .npz, .mat, .txt or IDX; N, N×1 or one-hot rows)" in text, text


def test_spray_of_a_store_says_the_pass_options_are_not_used(tmp_path, capsys):
    """lrp spray on an R.zarr reads its heatmaps: --dtype, --backend and --batch-size were
    dropped without a word (the options that would change the heatmaps are refused)."""
    store = lenet_store_of_random_digits(tmp_path)
    base = ["spray", "mnist-lenet5", str(store), "--embedding", "none", "--k", "2"]
    assert main(base + ["--out", str(tmp_path / "a.npz")]) == 0
    assert "note" not in capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "b.npz"), "--dtype", "float32", "--backend",
                        "numpy", "--batch-size", "7"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    notes = [line for line in err if "not used" in line]
    assert notes == [f"lrp spray: note: {store} holds computed relevance; --backend, --dtype "
                     "and --batch-size are not used (no LRP pass is run)"], err


@pytest.mark.parametrize("columns", [40, 48, 60, 80, 100])
def test_help_never_breaks_a_name_at_its_hyphen(capsys, monkeypatch, columns):
    """argparse wrapped option help at hyphens: '--layer-' / 'rule', 'efficientnet-' /
    'lite0', 'mnist-' / 'sample' in every command's --help ('lrp rules' alone was fixed)."""
    import re

    from lrpcore.cli.main import COMMANDS

    monkeypatch.setenv("COLUMNS", str(columns))
    broken = []
    for argv in [[]] + [[c] for c in COMMANDS] + [["data", "info"]]:
        text = _raw_help(capsys, argv)
        broken += [f"{' '.join(argv)}: {line.strip()}" for line in text.splitlines()
                   if re.search(r"[A-Za-z]-$", line)]
    assert broken == []


def _raw_help(capsys, argv) -> str:
    with pytest.raises(SystemExit):
        main(argv + ["--help"])
    return capsys.readouterr().out
