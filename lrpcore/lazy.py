"""Submodules as attributes of their package, imported on first use (PEP 562): after
``import lrpcore``, ``lrpcore.render.heatmap(...)`` works as the README writes it, while the
import itself stays light (no scikit-learn, scikit-image or dask until a tool needs them)."""

from __future__ import annotations

import importlib


def submodule_getattr(package: str):
    """A module ``__getattr__`` for ``package`` that imports ``package.NAME`` when NAME is one
    of its submodules; any other name is the usual AttributeError."""

    def __getattr__(name):
        if not name.startswith("_"):
            full = f"{package}.{name}"
            try:
                return importlib.import_module(full)
            except ModuleNotFoundError as exc:
                if exc.name != full:  # the submodule exists but lacks a dependency: say so
                    raise
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
