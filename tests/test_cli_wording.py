"""Messages that name the real problem in the user's words: counts of one, the help of every
``lrp bench`` option, a layer name given to a chain model, a mirror that is no URL, a
``--scaling`` of 0 (the option's fault, not the file's) and ``lrp info`` on a training
checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
from cli_help import help_words

from lrpcore.cli.main import main

XOR = """Linear 2 2
1.0 -1.0 0.5 -0.5
0.1 -0.1
Tanh
Linear 2 2
1.0 -1.0 0.5 -0.5
0.0 0.0
"""


@pytest.fixture
def xor(tmp_path):
    model = tmp_path / "xor.txt"
    model.write_text(XOR)
    x = tmp_path / "x.npy"
    np.save(x, np.array([[0.0, 1.0]]))
    return model, x


def test_one_sample_and_one_chunk_are_singular(xor, tmp_path, capsys):
    model, x = xor
    assert main(["explain", str(model), str(x), "--out", str(tmp_path / "R.npy")]) == 0
    assert "explained 1 sample with" in capsys.readouterr().out
    pytest.importorskip("zarr")
    pytest.importorskip("dask.distributed")
    assert main(["explain", str(model), str(x), "--out", str(tmp_path / "R.zarr")]) == 0
    assert "explained 1 chunk of 1 (" in capsys.readouterr().out


def test_every_bench_option_has_help(capsys):
    text = help_words(capsys, ["bench"])
    for needle in ("--models M1,M2,... comma-separated architectures",
                   "lenet5, long-rect, resnet, efficientnet-lite0",
                   "--batch-sizes N1,N2,... comma-separated samples per pass",
                   "--dtypes D1,D2,... comma-separated precisions",
                   "--rules R1,R2,... comma-separated rule specs or presets",
                   "numpy (CPU), cupy (GPU) or auto"):
        assert needle in text


@pytest.mark.parametrize("key", ["convolution0", "conv*"])
def test_a_layer_name_on_a_chain_model_is_taken_like_a_graph_node_name(tmp_path, capsys, key):
    """(Was: refused as "not a layer number"; chain layers are named as 'lrp info' shows.)"""
    out = tmp_path / "R.npy"
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 28, 28), dtype=np.uint8))
    assert main(["explain", "mnist-lenet5", str(x), "--layer-rule", f"{key}=flat",
                 "--out", str(out)]) == 0
    assert "with 0=flat" in capsys.readouterr().out
    assert out.exists()


@pytest.mark.parametrize("mirror", ["notaurl", "ftp://example.org/mnist", "https://"])
def test_a_mirror_that_is_no_url_is_refused_before_any_request(tmp_path, capsys, monkeypatch,
                                                               mirror):
    import lrpcore.io.download as download

    def no_request(*_a, **_k):
        raise AssertionError("a request was made")

    monkeypatch.setattr(download, "_fetch_one", no_request)
    assert main(["data", "download", "--kind", "test", "--quiet", "--mirror", mirror,
                 "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--mirror: {mirror!r} is not a mirror address" in err and "https://" in err
    monkeypatch.setenv("LRP_MNIST_MIRROR", mirror)
    assert main(["data", "download", "--kind", "test", "--quiet",
                 "--cache-dir", str(tmp_path)]) == 2
    assert f"LRP_MNIST_MIRROR: {mirror!r} is not a mirror address" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["figure", "render"])
def test_scaling_0_blames_the_option_not_the_file(tmp_path, capsys, command):
    r = tmp_path / "R.npy"
    np.save(r, np.random.default_rng(0).random((2, 8, 8)))
    out = tmp_path / "f.png"
    with pytest.raises(SystemExit) as exc:
        main([command, str(r), "--scaling", "0", "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --scaling" in err and "at least 1, got 0" in err and str(r) not in err
    assert not out.exists()


def test_info_on_a_training_checkpoint_names_the_model_and_resume(tmp_path, capsys):
    from train_cli import train_args

    assert main([*train_args(tmp_path), "--arch", "short-rect"]) == 0
    ckpt = tmp_path / "m.ckpt.npz"
    assert ckpt.is_file()
    capsys.readouterr()
    assert main(["info", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert f"{ckpt}: a training checkpoint of 'lrp train' (epoch 1 of 1, short-rect)" in err
    assert f"open the model it saved, {tmp_path / 'm.npz'}" in err
    assert f"--resume {ckpt}" in err and err.count("\n") == 1
    assert main(["info", str(tmp_path / "m.npz")]) == 0
