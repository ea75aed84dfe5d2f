"""PyTorch state dicts read without torch and without running anything from the file; the real
EfficientNet-Lite0 built from its package's checkpoint; the natural-images dataset."""

from __future__ import annotations

import collections
import io
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest
from shared_data import shared_path

import lrpcore
from lrpcore import ModelFormatError
from lrpcore.io import imagenet
from lrpcore.io.torch_pth import LEGACY_MAGIC, read_state_dict

# --- a fake torch, so that pickle writes genuine checkpoint pickles --------------------------

@pytest.fixture
def fake_torch(monkeypatch):
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    class DoubleStorage:
        pass

    FloatStorage.__module__ = DoubleStorage.__module__ = "torch"
    FloatStorage.__qualname__, DoubleStorage.__qualname__ = "FloatStorage", "DoubleStorage"
    torch.FloatStorage, torch.DoubleStorage = FloatStorage, DoubleStorage

    def _rebuild_tensor_v2(*args):  # never called: the reader has its own
        raise AssertionError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch, utils


class _Storage:
    def __init__(self, key, array, kind):
        self.key, self.array, self.kind = key, array, kind


class _Tensor:
    def __init__(self, storage, offset, size, stride, rebuild):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())
        self.rebuild = rebuild

    def __reduce__(self):
        return self.rebuild, self.args


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", obj.kind, obj.key, "cpu", obj.array.size)
        return None


def _tensors(fake, arrays):
    torch, utils = fake
    state, storages = collections.OrderedDict(), []
    for i, (name, (arr, offset, size, stride)) in enumerate(arrays.items()):
        kind = torch.FloatStorage if arr.dtype == np.float32 else torch.DoubleStorage
        st = _Storage(str(i), arr, kind)
        storages.append(st)
        state[name] = _Tensor(st, offset, size, stride, utils._rebuild_tensor_v2)
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(state)
    return buf.getvalue(), storages


def write_legacy(path, fake, arrays, payload=None):
    data, storages = _tensors(fake, arrays)
    out = io.BytesIO()
    for head in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
        out.write(pickle.dumps(head, protocol=2))
    out.write(payload if payload is not None else data)
    out.write(pickle.dumps([s.key for s in storages], protocol=2))
    for s in storages:
        out.write(int(s.array.size).to_bytes(8, "little", signed=True))
        out.write(s.array.astype(s.array.dtype.newbyteorder("<")).tobytes())
    path.write_bytes(out.getvalue())
    return path


def write_zip(path, fake, arrays, payload=None):
    data, storages = _tensors(fake, arrays)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", payload if payload is not None else data)
        for s in storages:
            zf.writestr(f"archive/data/{s.key}", s.array.tobytes())
    return path


RNG = np.random.default_rng(5)
W = RNG.standard_normal(12).astype(np.float32)
B = RNG.standard_normal(4)
ARRAYS = {"conv.weight": (W, 0, (3, 4), (4, 1)),
          "conv.weight_t": (W, 0, (4, 3), (1, 4)),  # a transposed view of the same data
          "bias.tail": (B, 1, (3,), (1,))}  # an offset into its storage


@pytest.mark.parametrize("writer", [write_legacy, write_zip])
def test_state_dicts_of_both_formats(tmp_path, fake_torch, writer):
    path = writer(tmp_path / "m.pth", fake_torch, ARRAYS)
    sd = read_state_dict(path)
    assert list(sd) == list(ARRAYS)
    np.testing.assert_array_equal(sd["conv.weight"], W.reshape(3, 4))
    np.testing.assert_array_equal(sd["conv.weight_t"], W.reshape(3, 4).T)
    np.testing.assert_array_equal(sd["bias.tail"], B[1:])
    assert sd["conv.weight"].dtype == np.float32 and sd["bias.tail"].dtype == np.float64
    assert all(a.flags.c_contiguous and a.flags.writeable for a in sd.values())


class _RunsCommand:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize("writer", [write_legacy, write_zip])
def test_code_in_the_pickle_never_runs(tmp_path, fake_torch, writer):
    import os

    marker = tmp_path / "pwned"
    payload = pickle.dumps(collections.OrderedDict(
        x=_RunsCommand(os.system, f"touch {marker}")), protocol=2)
    path = writer(tmp_path / "evil.pth", fake_torch, ARRAYS, payload=payload)
    with pytest.raises(ModelFormatError, match="refused to load.*system.*not part of a state "
                       "dict"):
        read_state_dict(path)
    assert not marker.exists()


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path, fake_torch):
    arrays = {"w": (W, 0, (5, 4), (4, 1))}  # 20 elements from a storage of 12
    with pytest.raises(ModelFormatError, match="reaches past its storage"):
        read_state_dict(write_legacy(tmp_path / "m.pth", fake_torch, arrays))


def test_a_storage_claiming_more_than_the_file_is_refused(tmp_path, fake_torch):
    big = _Storage("0", W, fake_torch[0].FloatStorage)
    big.array = np.zeros(1, np.float32)

    class Huge(_Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                return ("storage", obj.kind, obj.key, "cpu", 10**12)
            return None

    buf = io.BytesIO()
    Huge(buf, protocol=2).dump({"w": _Tensor(big, 0, (1,), (1,),
                                             fake_torch[1]._rebuild_tensor_v2)})
    path = write_legacy(tmp_path / "m.pth", fake_torch, ARRAYS, payload=buf.getvalue())
    with pytest.raises(ModelFormatError, match="more than the file holds"):
        read_state_dict(path)


@pytest.mark.parametrize("cut", [10, 200, -7])
def test_truncated_checkpoints_name_the_file(tmp_path, fake_torch, cut):
    path = write_legacy(tmp_path / "m.pth", fake_torch, ARRAYS)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(ModelFormatError, match="m.pth"):
        read_state_dict(path)


# --- the real checkpoint ---------------------------------------------------------------------

needs_weights = pytest.mark.skipif(not imagenet.available(),
                                   reason="the [imagenet] extra is not installed")


@pytest.fixture(scope="module")
def effnet():
    return lrpcore.load_model("efficientnet-lite0")


@needs_weights
def test_efficientnet_names_the_photographs(effnet):
    """scikit-image's chelsea is an Egyptian cat, coffee an espresso, rocket a missile."""
    ds = lrpcore.open_dataset("natural-images")
    assert ds.sample_shape == (224, 224, 3) and ds.dtype == np.uint8 and ds.labels is None
    pred = lrpcore.predict(effnet, ds.images([0, 1, 2]), dtype="float32").argmax(axis=1)
    assert list(pred) == [285, 967, 657]
    assert [effnet.class_names[p] for p in pred] == ["Egyptian cat", "espresso", "missile"]


@needs_weights
def test_efficientnet_from_the_checkpoint_equals_the_onnx_export(effnet):
    exported = lrpcore.load_model(shared_path("models", "torch_onnx", "efficientnet_lite0.onnx"))
    with np.load(shared_path("reference", "efficientnet_lite0_dev.npz")) as ref:
        x = ref["x"].astype(np.float64)
    y = lrpcore.predict(effnet, x, raw=True, dtype="float64")
    np.testing.assert_allclose(y, lrpcore.predict(exported, x, raw=True, dtype="float64"),
                               atol=1e-5, rtol=0)


@needs_weights
def test_info_lists_tensors_and_convert_builds_the_architecture(tmp_path, capsys):
    from lrpcore.cli.main import main

    pth = imagenet.checkpoint_path()
    assert main(["info", str(pth)]) == 0
    out = capsys.readouterr().out
    assert "296 tensors" in out and "_conv_stem.weight" in out and "32×3×3×3" in out
    target = tmp_path / "effnet.npz"
    assert main(["convert", str(pth), str(target), "--arch", "efficientnet-lite0"]) == 0
    model = lrpcore.load_model(target)
    assert model.class_names[285] == "Egyptian cat"
    images = lrpcore.open_dataset("natural-images").images([1])
    assert lrpcore.predict(model, images, dtype="float32").argmax() == 967


def test_a_checkpoint_alone_is_not_a_model(tmp_path, fake_torch):
    path = write_legacy(tmp_path / "m.pth", fake_torch, ARRAYS)
    with pytest.raises(ModelFormatError, match="--arch"):
        lrpcore.load_model(path)


def test_class_names_ship_with_the_package():
    names = imagenet.imagenet_class_names()
    assert len(names) == 1000 and names[285] == "Egyptian cat" and names[967] == "espresso"


@needs_weights
def test_exports_of_a_named_model_record_its_weights_checksum():
    from lrpcore.export import sha256_file, sidecar_info

    info = sidecar_info("efficientnet-lite0", "EpsilonPlus", "pred", "numpy", "float32")
    assert info["model"] == "efficientnet-lite0"
    assert info["model_sha256"] == sha256_file(imagenet.checkpoint_path())


@pytest.mark.parametrize("writer", [write_legacy, write_zip])
def test_a_broadcast_view_cannot_expand_a_tiny_file(tmp_path, fake_torch, writer):
    """Stride 0 over a 4-value storage declaring 2²⁰×2²⁰ values: 4 TiB from a 400-byte file
    (was an internal MemoryError, or gigabytes really allocated for smaller shapes)."""
    w = np.arange(4, dtype=np.float32)
    path = writer(tmp_path / "m.pth", fake_torch, {"w": (w, 0, (1 << 20, 1 << 20), (0, 0))})
    with pytest.raises(ModelFormatError, match="more elements than its storage") as info:
        read_state_dict(path)
    assert str(path) in str(info.value)


def test_many_views_of_one_storage_are_bounded(tmp_path, fake_torch):
    torch, utils = fake_torch
    w = np.zeros(4096, dtype=np.float32)
    storage = _Storage("0", w, torch.FloatStorage)
    state = collections.OrderedDict(
        (f"w{i}", _Tensor(storage, 0, (4096,), (1,), utils._rebuild_tensor_v2))
        for i in range(256))
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(state)
    path = write_zip(tmp_path / "m.pth", fake_torch, {"w": (w, 0, (4096,), (1,))},
                     payload=buf.getvalue())
    with pytest.raises(ModelFormatError, match="far more than the file stores"):
        read_state_dict(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_tensor_with_nan_or_inf_is_refused_naming_it(tmp_path, fake_torch, bad):
    """Other formats refuse non-finite weights; a .pth handed them on, and the explanation
    then blamed the input."""
    w = W.copy()
    w[5] = bad
    path = write_zip(tmp_path / "m.pth", fake_torch, {"conv.weight": (w, 0, (3, 4), (4, 1))})
    with pytest.raises(ModelFormatError, match="m.pth: tensor 'conv.weight' contains NaN"):
        read_state_dict(path)
