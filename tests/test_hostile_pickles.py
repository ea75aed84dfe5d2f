"""Hostile pickles (`.nn`, `.pth`) found by the second hostile review: each costs bounded time
and memory and ends in ModelFormatError, and no pickle changes the reader's own records or
classes after they were checked."""

from __future__ import annotations

import pickle
import struct
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

from lrpcore import ModelFormatError
from lrpcore.io import toolbox_nn
from lrpcore.io.toolbox_nn import read_toolbox_nn

P2 = b"\x80\x02"


def _write(tmp_path, data, name="m.nn"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def _array_ops(shape, data: bytes) -> bytes:
    """The opcodes numpy writes for an ndarray at protocol 2 (float64, C order)."""
    dims = b"".join(b"J" + struct.pack("<i", n) for n in shape)
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R"
            b"(K\x01(" + dims + b"tcnumpy\ndtype\nU\x02f8K\x00K\x01\x87R"
            b"(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89"
            b"T" + struct.pack("<I", len(data)) + data + b"tb")


def test_one_array_reused_by_many_layers_costs_no_more_than_the_file(tmp_path):
    # one 64×64 Linear referenced 60 times through the memo: 32 KB of file, 2 MB of weights
    w = np.full((64, 64), 0.01).tobytes()
    linear = (b"cmodules.linear\nLinear\n)\x81}(U\x01W" + _array_ops((64, 64), w)
              + b"U\x01B" + _array_ops((64,), bytes(64 * 8)) + b"ub")
    data = (P2 + b"cmodules.sequential\nSequential\n)\x81}U\x07modules(" + linear
            + b"q\x01" + b"h\x01" * 59 + b"l" + b"sb.")
    path = _write(tmp_path, data)
    assert len(data) < 40_000
    with pytest.raises(ModelFormatError, match="more data than the file holds"):
        read_toolbox_nn(path)


def test_a_far_memo_index_allocates_nothing(tmp_path):
    # ten bytes asking the C unpickler to grow its memo to 2^24 entries (256 MB)
    path = _write(tmp_path, P2 + b"]r" + struct.pack("<I", 1 << 24) + b".")
    peak = _peak_bytes(lambda: pytest.raises(ModelFormatError, read_toolbox_nn, path))
    assert peak < 32 << 20


def test_empty_sets_are_refused_before_they_cost_memory(tmp_path):
    path = _write(tmp_path, b"\x80\x04(" + b"\x8f" * 500_000 + b"l.")
    peak = _peak_bytes(lambda: pytest.raises(ModelFormatError, read_toolbox_nn, path))
    assert peak < 32 << 20


def test_opcode_count_is_bounded(tmp_path):
    path = _write(tmp_path, P2 + b"(" + b"]" * (toolbox_nn.MAX_PICKLE_OPS + 10) + b"l.")
    with pytest.raises(ModelFormatError, match="pickle operations"):
        read_toolbox_nn(path)


def test_colliding_integer_keys_are_refused(tmp_path):
    # integers k·(2^61−1)+5 share one hash: 60,000 of them took 39 s to put in a dict
    m = (1 << 61) - 1
    body = b"".join(pickle.dumps(5 + k * m, protocol=2)[2:-1] + b"N" for k in range(200))
    path = _write(tmp_path, P2 + b"}(" + body + b"u.")
    with pytest.raises(ModelFormatError, match="dictionary key that is not a name"):
        read_toolbox_nn(path)


def test_build_never_changes_a_class_the_file_may_name(tmp_path):
    # BUILD with slot state on the numpy.ndarray stand-in would setattr on the class itself
    data = P2 + b"cnumpy\nndarray\n(N}U\x06poisonK\x01stb."
    with pytest.raises(ModelFormatError):
        read_toolbox_nn(_write(tmp_path, data))
    assert not hasattr(toolbox_nn._NdarrayToken, "poison")


_PTH_SCRIPT = r"""
import sys
from lrpcore import ModelFormatError
from lrpcore.io.torch_pth import read_state_dict
try:
    read_state_dict(sys.argv[1])
except ModelFormatError as exc:
    print(exc)
    sys.exit(2)
"""


@pytest.mark.parametrize("state", [b"}U\x06strideJ\x00\x00\x00\x40\x85s",  # huge stride
                                   b"}U\x04sizeJ\x00\x00\x00\x01\x85s"])  # past the storage
def test_pth_tensor_cannot_be_changed_after_its_checks(tmp_path, state):
    # _rebuild_tensor_v2(storage of 4 floats, 0, (4,), (1,)) followed by BUILD on the tensor:
    # without the guard the second form read far past the storage and the first crashed
    pkl = (P2 + b"}U\x01wctorch._utils\n_rebuild_tensor_v2\n((U\x07storagectorch\nFloatStorage\n"
           b"U\x010U\x03cpuK\x04tQK\x00K\x04\x85K\x01\x85\x89ccollections\nOrderedDict\n)R"
           b"tR" + state + b"bs.")
    path = tmp_path / "m.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/data/0", np.ones(4, np.float32).tobytes())
    proc = subprocess.run([sys.executable, "-c", _PTH_SCRIPT, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "after it was checked" in proc.stdout
