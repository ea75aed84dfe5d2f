"""cupy's ``ElementwiseKernel`` for the CPU: the engine's CUDA kernel bodies compiled as C.

The engine's own kernels (``lrpcore.kernels.KERNELS``) run only where cupy sees a GPU, which
CI never has. Their bodies are plain C over one output element ``i``, so a C compiler can run
the very same text on the CPU: each argument becomes a pointer (``raw`` ones indexed by the
body, elementwise ones read at ``i``) or a scalar, as cupy passes it. ``FAKE_GPU_KERNELS`` is
the strict CPU stand-in for cupy (tests/fake_device.py) with this ``ElementwiseKernel``, so
the whole GPU code path, kernels included, can be compared with numpy.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from fake_device import DeviceArray, _FakeCupy, _make_namespace

from lrpcore.backend import Backend

C_COMPILER = shutil.which("cc") or shutil.which("gcc")
_C_TYPES = {"float64": ("double", ctypes.c_double), "float32": ("float", ctypes.c_float)}
_INTS = {"int32": ("int", ctypes.c_int), "int64": ("long long", ctypes.c_longlong)}


@functools.cache
def _build_dir() -> Path:
    """A folder for the compiled kernels, made at the first compile and removed at exit."""
    holder = tempfile.TemporaryDirectory(prefix="lrp-cpu-kernels-")
    _BUILD_DIRS.append(holder)  # kept alive until the interpreter exits, then cleaned
    return Path(holder.name)


_BUILD_DIRS: list = []


def _arguments(text):
    """[(raw, type, name)] of an ElementwiseKernel argument list such as 'raw T x, int32 H'."""
    out = []
    for part in text.split(","):
        words = part.split()
        raw = words[0] == "raw"
        out.append((raw, *words[raw:]))
    return out


@functools.cache
def _compiled(arguments, output, body, dtype, arrays):
    """The kernel as a C function ``run(n, args..., out)``; ``arrays`` says which elementwise
    arguments are arrays (read at ``i``) rather than scalars."""
    ctype = _C_TYPES[dtype][0]
    params, macros = [], []
    for (raw, typ, name), is_array in zip(_arguments(arguments), arrays, strict=True):
        c = ctype if typ == "T" else _INTS[typ][0]
        if raw:
            params.append(f"const {c}* {name}")
        elif is_array:
            params.append(f"const {c}* {name}_at")
            macros.append(f"#define {name} ({name}_at[i])")
        else:
            params.append(f"{c} {name}")
    (_, out_name), = [tuple(output.split())]
    params.append(f"{ctype}* {out_name}_at")
    macros.append(f"#define {out_name} ({out_name}_at[i])")
    source = "\n".join([
        f"typedef {ctype} T;", *macros,
        f"void run(long long n, {', '.join(params)}) {{",
        "  for (long long i = 0; i < n; ++i) {", body, "  }", "}"])
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    build = _build_dir()
    lib = build / f"k{digest}.so"
    if not lib.exists():
        (build / f"k{digest}.c").write_text(source)
        subprocess.run([C_COMPILER, "-O2", "-shared", "-fPIC", "-o", str(lib),
                        str(build / f"k{digest}.c")], check=True, capture_output=True)
    return ctypes.CDLL(str(lib)).run


class ElementwiseKernel:
    """The subset of cupy's ElementwiseKernel the engine uses: positional arguments, the
    output passed last or allocated like the first elementwise array argument."""

    def __init__(self, arguments, output, body, name):
        self.arguments, self.output, self.body, self.name = arguments, output, body, name
        self.spec = _arguments(arguments)

    def __call__(self, *args):
        args = list(args)
        out = args.pop() if len(args) == len(self.spec) + 1 else None
        if out is None:
            first = next(a for a, (raw, *_) in zip(args, self.spec, strict=True)
                         if not raw and isinstance(a, np.ndarray))
            out = np.empty(first.shape, first.dtype).view(DeviceArray)
        dtype = out.dtype
        assert out.flags.c_contiguous, f"{self.name}: output must be contiguous"
        arrays = tuple(isinstance(a, np.ndarray) and not raw
                       for a, (raw, *_) in zip(args, self.spec, strict=True))
        run = _compiled(self.arguments, self.output, self.body, dtype.name, arrays)
        keep, c_args = [], [ctypes.c_longlong(out.size)]
        for a, (raw, typ, _name) in zip(args, self.spec, strict=True):
            if isinstance(a, np.ndarray):
                a = np.ascontiguousarray(a.view(np.ndarray))
                want = dtype if typ == "T" else np.dtype(typ)
                assert a.dtype == want, f"{self.name}: {_name} is {a.dtype}, kernel wants {want}"
                assert raw or a.size == out.size, f"{self.name}: {_name} does not broadcast"
                keep.append(a)
                c_args.append(ctypes.c_void_p(a.ctypes.data))
            else:
                c_args.append((_C_TYPES[dtype.name][1] if typ == "T" else _INTS[typ][1])(a))
        c_args.append(ctypes.c_void_p(out.ctypes.data))
        run(*c_args)
        return out


class _KernelCupy(_FakeCupy):
    __hash__ = object.__hash__  # the engine caches compiled kernels per array module

    def __eq__(self, other):
        return self is other


kernel_cupy = _KernelCupy(**vars(_make_namespace()))
kernel_cupy.ElementwiseKernel = ElementwiseKernel
FAKE_GPU_KERNELS = Backend("cupy", kernel_cupy, "fake GPU with the engine's kernels as C")
