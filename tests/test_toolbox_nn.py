"""The toolbox's pickled .nn models: read safely, never executing anything in the file."""

from __future__ import annotations

import os
import pickle
import pickletools
import subprocess
import sys
import types

import numpy as np
import pytest
from conftest import shared_path

from lrpcore import ModelFormatError, load_model
from lrpcore.io.toolbox_nn import read_toolbox_nn
from lrpcore.io.toolbox_txt import read_toolbox_txt


@pytest.fixture(scope="module")
def lenet_nn():
    return shared_path("models", "lrp_toolbox", "LeNet-5.nn")


# --- a fake toolbox, to make genuine pickles of toolbox-like objects -------------------------

class _Module:
    def __init__(self, **state):
        self.__dict__.update(state)


@pytest.fixture
def fake_toolbox(monkeypatch):
    """Register ``modules.<name>.<Class>`` so that pickle can write toolbox-style files."""
    classes = {}
    package = types.ModuleType("modules")
    monkeypatch.setitem(sys.modules, "modules", package)
    for name in ("Sequential", "Linear", "Convolution", "SumPool", "MaxPool", "Rect", "Tanh",
                 "SoftMax", "Flatten"):
        mod = types.ModuleType(f"modules.{name.lower()}")
        cls = type(name, (_Module,), {"__module__": mod.__name__})
        setattr(mod, name, cls)
        monkeypatch.setitem(sys.modules, mod.__name__, mod)
        classes[name] = cls
    return classes


def _toolbox_net(tb, rng):
    conv = tb["Convolution"](W=rng.standard_normal((3, 3, 2, 4)), B=rng.standard_normal(4),
                             stride=(1, 1), X=None, Y=None)
    pool = tb["MaxPool"](pool=(2, 2), stride=(2, 2))
    lin = tb["Linear"](W=rng.standard_normal((4 * 2 * 2, 3)), B=-np.abs(rng.standard_normal(3)),
                       m=16, n=3)
    return tb["Sequential"](modules=[conv, tb["Rect"](), pool, tb["Flatten"](), lin,
                                     tb["SoftMax"]()], lrp_param=1.0)


def _write(tmp_path, data, name="model.nn"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- the real toolbox file -------------------------------------------------------------------

def test_lenet_nn_matches_txt_bit_for_bit(lenet_nn, lenet_txt):
    nn, txt = read_toolbox_nn(lenet_nn), read_toolbox_txt(lenet_txt)
    assert [layer.kind for layer in nn.layers] == [layer.kind for layer in txt.layers]
    n_weighted = 0
    for a, b in zip(nn.layers, txt.layers, strict=True):
        if a.weighted:
            n_weighted += 1
            assert a.W.dtype == b.W.dtype == np.float64
            assert a.W.shape == b.W.shape and a.W.tobytes() == b.W.tobytes()
            assert a.B.shape == b.B.shape and a.B.tobytes() == b.B.tobytes()  # -0.0 included
        for attr in ("stride", "pool"):
            assert getattr(a, attr, None) == getattr(b, attr, None)
    assert n_weighted == 4
    assert nn.input_spec == txt.input_spec


def test_lenet_nn_references_only_allowed_globals(lenet_nn):
    """Documents what the real file asks for (read with pickletools, never unpickled)."""
    wanted = {arg for op, arg, _ in pickletools.genops(lenet_nn.read_bytes())
              if op.name == "GLOBAL"}
    assert "numpy.core.multiarray _reconstruct" in wanted
    assert "modules.sequential Sequential" in wanted
    assert all(w.startswith(("modules.", "numpy")) for w in wanted)


def test_load_model_dispatches_nn(lenet_nn):
    model = load_model(lenet_nn)
    assert model.param_count() == 47645
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 1))
    assert model.forward(x).shape == (2, 10)


def test_truncated_real_file(tmp_path, lenet_nn):
    data = lenet_nn.read_bytes()
    for cut in (1, 100, len(data) // 2, len(data) - 1):
        path = _write(tmp_path, data[:cut])
        with pytest.raises(ModelFormatError, match=str(path)):
            read_toolbox_nn(path)


# --- genuine pickles of toolbox-like objects -------------------------------------------------

@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_fake_toolbox_pickle_round_trip(tmp_path, fake_toolbox, protocol):
    rng = np.random.default_rng(protocol)
    net = _toolbox_net(fake_toolbox, rng)
    path = _write(tmp_path, pickle.dumps(net, protocol=protocol))
    model = read_toolbox_nn(path)
    assert [layer.kind for layer in model.layers] == ["Convolution", "Rect", "MaxPool",
                                                      "Flatten", "Linear", "SoftMax"]
    conv, lin = net.modules[0], net.modules[4]
    assert model.layers[0].W.tobytes() == conv.W.tobytes()
    assert model.layers[4].B.tobytes() == lin.B.tobytes()
    assert model.layers[2].pool == (2, 2)
    # the forward pass equals a direct numpy computation of the toolbox network
    x = rng.standard_normal((3, 6, 6, 2))
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # N,4,4,C,3,3
    z = np.einsum("nijcab,abcf->nijf", win, conv.W) + conv.B
    a = np.maximum(z, 0).reshape(3, 2, 2, 2, 2, 4).max(axis=(2, 4))
    logits = a.reshape(3, -1) @ lin.W + lin.B
    want = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.forward(x), want, rtol=1e-12)


def test_fake_toolbox_float32_and_fortran_arrays(tmp_path, fake_toolbox):
    tb = fake_toolbox
    W = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    net = tb["Sequential"](modules=[tb["Linear"](W=W, B=np.zeros(4, np.float32))])
    model = read_toolbox_nn(_write(tmp_path, pickle.dumps(net, protocol=2)))
    assert model.layers[0].W.dtype == np.float32
    np.testing.assert_array_equal(model.layers[0].W, W)


def test_layers_that_do_not_fit_are_refused(tmp_path, fake_toolbox):
    tb = fake_toolbox
    net = tb["Sequential"](modules=[tb["Linear"](W=np.ones((3, 4)), B=np.zeros(4)),
                                    tb["Linear"](W=np.ones((5, 2)), B=np.zeros(2))])
    with pytest.raises(ModelFormatError, match=r"module 1.*5 inputs.*gives 4"):
        read_toolbox_nn(_write(tmp_path, pickle.dumps(net, protocol=2)))


def test_nan_weights_are_refused(tmp_path, fake_toolbox):
    tb = fake_toolbox
    W = np.ones((3, 4))
    W[1, 2] = np.nan
    net = tb["Sequential"](modules=[tb["Linear"](W=W, B=np.zeros(4))])
    with pytest.raises(ModelFormatError, match=r"module 0 \(Linear\).*NaN"):
        read_toolbox_nn(_write(tmp_path, pickle.dumps(net, protocol=2)))


def test_object_arrays_are_refused(tmp_path, fake_toolbox):
    tb = fake_toolbox
    W = np.array([[1.0, "x"]], dtype=object)
    net = tb["Sequential"](modules=[tb["Linear"](W=W, B=np.zeros(2))])
    with pytest.raises(ModelFormatError, match="dtype"):
        read_toolbox_nn(_write(tmp_path, pickle.dumps(net, protocol=2)))


def test_root_must_be_a_sequential(tmp_path, fake_toolbox):
    for obj in ([1, 2, 3], fake_toolbox["Rect"](), fake_toolbox["Sequential"](modules=[])):
        with pytest.raises(ModelFormatError, match="Sequential|modules"):
            read_toolbox_nn(_write(tmp_path, pickle.dumps(obj, protocol=2)))


# --- hostile files: nothing may run ----------------------------------------------------------

class _RunsCommand:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _marker_payloads(marker):
    cmd = f"touch {marker}"
    return {
        "os.system": pickle.dumps(_RunsCommand(os.system, cmd), protocol=2),
        "eval": pickle.dumps(_RunsCommand(eval, f"open({str(marker)!r}, 'w').close()"),
                             protocol=2),
        "exec": pickle.dumps(_RunsCommand(exec, f"open({str(marker)!r}, 'w').close()")),
    }


@pytest.mark.parametrize("kind", ["os.system", "eval", "exec"])
def test_code_execution_payloads_never_run(tmp_path, kind):
    marker = tmp_path / "pwned"
    path = _write(tmp_path, _marker_payloads(marker)[kind])
    with pytest.raises(ModelFormatError, match="refused") as err:
        read_toolbox_nn(path)
    assert not marker.exists()
    assert str(path) in str(err.value)
    assert ("system" in str(err.value)) if kind == "os.system" else (kind in str(err.value))


def test_payload_nested_inside_a_toolbox_model(tmp_path, fake_toolbox):
    marker = tmp_path / "pwned"
    tb = fake_toolbox
    lin = tb["Linear"](W=np.ones((2, 2)), B=np.zeros(2),
                       X=_RunsCommand(os.system, f"touch {marker}"))
    path = _write(tmp_path, pickle.dumps(tb["Sequential"](modules=[lin]), protocol=2))
    with pytest.raises(ModelFormatError, match="system"):
        read_toolbox_nn(path)
    assert not marker.exists()


@pytest.mark.parametrize("func", ["functools\npartial", "subprocess\nPopen",
                                  "builtins\ngetattr", "numpy\nload", "numpy.testing\nrun_module",
                                  "modules.linear\nos"])
def test_other_globals_are_refused(tmp_path, func):
    data = b"\x80\x02c" + func.encode() + b"\n)R."
    with pytest.raises(ModelFormatError, match="refused to load: the file asks for "
                       f"'{func.replace(chr(10), '.')}', which is not part of a toolbox model"):
        read_toolbox_nn(_write(tmp_path, data))


def _binunicode(s):
    b = s.encode()
    return b"X" + len(b).to_bytes(4, "little") + b


@pytest.mark.parametrize("global_name", ["modules.linear\nLinear", "modules.sequential\nSequential",
                                         "numpy\ndtype", "numpy.core.multiarray\n_reconstruct",
                                         "numpy.core.multiarray\nscalar", "numpy\nndarray"])
def test_allowed_globals_called_with_hostile_arguments(tmp_path, global_name):
    """REDUCE on an allowed callable with an argument meant to run code: refused."""
    marker = tmp_path / "pwned"
    arg = _binunicode(f"__import__('os').system('touch {marker}')")
    data = b"\x80\x02c" + global_name.encode() + b"\n" + arg + b"\x85R."
    with pytest.raises(ModelFormatError, match=str(tmp_path)):
        read_toolbox_nn(_write(tmp_path, data))
    assert not marker.exists()


def test_object_dtype_via_allowed_dtype_is_refused(tmp_path):
    data = b"\x80\x02cnumpy\ndtype\n" + _binunicode("O8") + b"\x85R."
    with pytest.raises(ModelFormatError, match="dtype"):
        read_toolbox_nn(_write(tmp_path, data))


def test_huge_array_claim_fails_fast(tmp_path):
    """An ndarray state claiming 10^12 elements with 8 bytes of data: refused, no allocation."""
    data = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
            b"(K\x01\x8a\x05\x00\x10\xa5\xd4\xe8\x85cnumpy\ndtype\nU\x02f8K\x00K\x01\x87R"
            b"\x89U\x08" + b"\x00" * 8 + b"tb.")
    with pytest.raises(ModelFormatError, match="shape"):
        read_toolbox_nn(_write(tmp_path, data))


def test_persistent_ids_are_refused(tmp_path):
    data = b"\x80\x02" + _binunicode("x") + b"Q."
    with pytest.raises(ModelFormatError, match="persistent"):
        read_toolbox_nn(_write(tmp_path, data))


@pytest.mark.parametrize("seed", range(8))
def test_random_bytes(tmp_path, seed):
    data = np.random.default_rng(seed).integers(0, 256, 300, dtype=np.uint8).tobytes()
    if seed % 2:
        data = b"\x80\x02" + data  # looks like a pickle at first
    path = _write(tmp_path, data)
    with pytest.raises(ModelFormatError, match=str(path)):
        read_toolbox_nn(path)


def test_empty_file(tmp_path):
    with pytest.raises(ModelFormatError, match="model.nn"):
        read_toolbox_nn(_write(tmp_path, b""))


# --- memory safety and bounded work (issue 14) -----------------------------------------------

class _ArrayFromBlob:
    """Pickles like an ndarray whose data is a given bytes object (shared through the memo)."""

    def __init__(self, blob, shape):
        self.blob, self.shape = blob, shape

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        return (_reconstruct, (np.ndarray, (0,), b"b"),
                (1, self.shape, np.dtype("f8"), False, self.blob))


def _dtype_memo_slot(data):
    """Memo index the first numpy dtype of a protocol-2 pickle is stored at."""
    ops = list(pickletools.genops(data))
    for k, (op, arg, _) in enumerate(ops):
        if op.name == "GLOBAL" and arg == "numpy dtype":
            seen_reduce = False
            for op3, arg3, _ in ops[k + 1:]:
                if op3.name == "REDUCE":
                    seen_reduce = True
                elif seen_reduce and op3.name in ("BINPUT", "LONG_BINPUT"):
                    return arg3
    raise AssertionError("no numpy dtype in the pickle")


def test_a_dtype_rewritten_after_its_array_was_checked_is_refused(tmp_path, fake_toolbox):
    """numpy's dtype __setstate__ rewrites a dtype in place: a BUILD on the memoised dtype after
    an array used it made that array big-endian (or structured) behind the checks."""
    tb = fake_toolbox
    net = tb["Sequential"](modules=[tb["Linear"](W=np.ones((2, 3)), B=np.zeros(3))])
    data = pickle.dumps(net, protocol=2)
    slot = _dtype_memo_slot(data)
    state = pickle.dumps((3, ">", None, None, None, -1, -1, 0), protocol=2)[2:-1]
    # push the memoised dtype, its new state, BUILD, drop it; then STOP with the model on top
    rewrite = b"h" + bytes([slot]) + state + b"b0."
    assert data.endswith(b".")
    path = _write(tmp_path, data[:-1] + rewrite)
    with pytest.raises(ModelFormatError, match="dtype"):
        read_toolbox_nn(path)


def test_arrays_are_native_float_even_from_big_endian_files(tmp_path, fake_toolbox):
    tb = fake_toolbox
    W = np.arange(6, dtype=">f8").reshape(2, 3)
    net = tb["Sequential"](modules=[tb["Linear"](W=W, B=np.zeros(3, dtype=">f4"))])
    model = read_toolbox_nn(_write(tmp_path, pickle.dumps(net, protocol=2)))
    layer = model.layers[0]
    assert layer.W.dtype == np.float64 and layer.W.dtype.isnative
    assert layer.B.dtype == np.float32 and layer.B.dtype.isnative
    np.testing.assert_array_equal(layer.W, np.arange(6).reshape(2, 3))


def test_one_data_block_reused_for_many_arrays_is_refused_before_copying(tmp_path,
                                                                         fake_toolbox):
    """The memo lets a file name one blob for thousands of arrays (gigabytes from 1.8 MB)."""
    tb = fake_toolbox
    blob = np.ones(64 * 1024 // 8).tobytes()  # 64 KiB, stored once in the file
    extras = [_ArrayFromBlob(blob, (len(blob) // 8,)) for _ in range(200)]  # 12.5 MiB claimed
    net = tb["Sequential"](modules=[tb["Linear"](W=np.ones((2, 3)), B=np.zeros(3), X=extras)])
    data = pickle.dumps(net, protocol=2)
    assert len(data) < 200 * 1024
    with pytest.raises(ModelFormatError, match="more data than the file"):
        read_toolbox_nn(_write(tmp_path, data))


def test_shared_nested_lists_are_refused_without_formatting_them(tmp_path, fake_toolbox):
    """A few hundred bytes of lists that reference each other stand for 2^40 items: the error
    message must not format them (the loader hung for minutes at gigabytes). Run in a
    subprocess so that a regression fails the test instead of hanging the suite."""
    tb = fake_toolbox
    nested = []
    for _ in range(40):
        nested = [nested, nested]
    net = tb["Sequential"](modules=[tb["MaxPool"](pool=nested, stride=(2, 2))])
    path = _write(tmp_path, pickle.dumps(net, protocol=2))
    assert path.stat().st_size < 1000
    script = ("import sys; from lrpcore import ModelFormatError\n"
              "from lrpcore.io.toolbox_nn import read_toolbox_nn\n"
              "try:\n    read_toolbox_nn(sys.argv[1])\nexcept ModelFormatError as e:\n"
              "    print(e); sys.exit(0)\nsys.exit(1)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "'pool' must be two positive integers, got list of 2 items" in proc.stdout
    assert len(proc.stdout) < 400
