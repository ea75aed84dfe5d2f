"""Helpers shared by the sub-commands: formatting help, loading arrays safely."""

from __future__ import annotations

import argparse
import os

import numpy as np

from ..errors import DatasetError


def add_command(sub, name, help_text, example, description=None):
    """Add a sub-command whose --help ends with an example."""
    return sub.add_parser(
        name, help=help_text, description=description or help_text,
        epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)


def load_array(path, what="input") -> np.ndarray:
    """Load a ``.npy`` array without pickle; errors name the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DatasetError(f"{path}: no such file")
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode=None)
    except ValueError as exc:
        raise DatasetError(f"{path}: not a plain .npy array ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read {what}: {exc}") from None
    if isinstance(arr, np.lib.npyio.NpzFile):
        keys = list(arr.keys())
        if len(keys) != 1:
            raise DatasetError(f"{path}: an .npz with {len(keys)} arrays; pass a single .npy")
        arr = arr[keys[0]]
    return arr
