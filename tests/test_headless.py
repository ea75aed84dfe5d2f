"""lrpcore is the headless engine: importing all of it must not pull in Qt or cupy."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import lrpcore
for mod in pkgutil.walk_packages(lrpcore.__path__, "lrpcore."):
    importlib.import_module(mod.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6",
                                                           "cupy", "matplotlib", "torch"))
print(",".join(bad))
"""


def test_lrpcore_never_imports_qt_or_gpu_libraries():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_atomic_writes_get_normal_permissions(tmp_path):
    import os

    from lrpcore.fileio import atomic_write_text

    target = tmp_path / "out.txt"
    atomic_write_text(target, "hello")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_text() == "hello"
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
