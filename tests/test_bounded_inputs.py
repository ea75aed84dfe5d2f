"""Inputs whose size claims exceed what a valid file of their size can hold are refused before
anything is inflated: native models of many small compressed members, dataset ``.npz`` and
``.mat`` files, and ``lrp data info`` on labels with huge values (files written here)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import DatasetError, ModelFormatError
from lrpcore.layers import Linear
from lrpcore.model import Sequential


def test_native_model_of_many_small_compressed_members_is_refused(tmp_path):
    # eight 8 MB members of zeros: each below the per-member floor, 64 MB together from ~70 kB
    from lrpcore.io.native import save_native

    n = 1024
    model = Sequential([Linear(np.zeros((n, n)), np.zeros(n)) for _ in range(8)])
    path = tmp_path / "many.npz"
    save_native(model, path, compress=True)
    assert path.stat().st_size < 200_000
    with pytest.raises(ModelFormatError, match=r"many\.npz: array .* inflated data"):
        lrpcore.load_model(path)


def _npz_with_member(path, name, header_shape, payload: bytes, compress=True):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "|u1", "fortran_order": False, "shape": header_shape})
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as zf:
        zf.writestr(f"{name}.npy", buf.getvalue() + payload)


def test_dataset_npz_claiming_more_than_its_member_holds_is_refused(tmp_path):
    path = tmp_path / "claims.npz"
    _npz_with_member(path, "x", (100000, 1000, 1000), b"\0" * 100)
    with pytest.raises(DatasetError, match=r"claims\.npz: array 'x'.*100000×1000×1000"):
        lrpcore.open_dataset(path)


def test_mat_claiming_more_than_the_file_can_hold_is_refused(tmp_path):
    import scipy.io

    path = tmp_path / "big.mat"
    scipy.io.savemat(path, {"data": np.zeros((50, 40))})
    raw = bytearray(path.read_bytes())
    # the dimensions array of the variable: int32 50, 40 → 50, 2_000_000_000
    dims = np.array([50, 40], "<i4").tobytes()
    assert raw.count(dims) == 1
    raw = raw.replace(dims, np.array([50, 2_000_000_000], "<i4").tobytes())
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"big\.mat: variable 'data' claims a 50×2000000000"):
        lrpcore.open_dataset(path)


@pytest.mark.parametrize("top", [300_000_000, 2**62])
def test_data_info_on_huge_label_values_is_bounded(tmp_path, capsys, top):
    from lrpcore.cli.main import main

    np.save(tmp_path / "x.npy", np.zeros((3, 4, 4), np.uint8))
    np.save(tmp_path / "y.npy", np.array([0, 1, top], np.int64))
    rc = main(["data", "info", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy")])
    out = capsys.readouterr().out
    assert rc == 0 and "3 classes" in out


def test_stacked_pad_layers_are_bounded_together(tmp_path):
    from lrpcore.io.native import save_native
    from lrpcore.layers import Flatten, Pad

    path = tmp_path / "pads.npz"
    save_native(Sequential([Pad((4096,) * 4) for _ in range(3)] + [Flatten()]), path)
    with pytest.raises(ModelFormatError, match=r"pads\.npz: header layer 1: Pad layers together"):
        lrpcore.load_model(path)
    ok = tmp_path / "one.npz"  # one Pad of the largest size a file may declare still loads
    save_native(Sequential([Pad((4096,) * 4), Flatten()]), ok)
    assert lrpcore.load_model(ok).layers[0].pads == (4096,) * 4


def test_dataset_npz_member_claiming_more_than_the_file_is_refused(tmp_path):
    # a stored member whose zip entry (local and central) claims 4 GB: numpy would allocate it
    import struct

    path = tmp_path / "stored.npz"
    _npz_with_member(path, "x", (2**32 - 16,), b"\0" * 16, compress=False)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("x.npy")
    real = struct.pack("<II", info.compress_size, info.file_size)
    assert raw.count(real) == 2  # local header and central directory
    raw = raw.replace(real, struct.pack("<II", 2**32 - 1 - 64, 2**32 - 1 - 64))
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"stored\.npz: array 'x'.*more than the whole file"):
        lrpcore.open_dataset(path)
