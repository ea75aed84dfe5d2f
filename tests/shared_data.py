"""The one place tests find ``../shared`` (read-only reference material beside the checkout:
toolbox outputs, the MNIST test set, toolbox and ONNX models). Tests that need a file skip
when it is absent, so the suite also runs on a bare clone."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_path(*parts) -> Path:
    """``../shared/<parts>``; skips the calling test when that file is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def shared_arrays(*parts) -> dict:
    """Every array of the .npz ``../shared/<parts>``, read at once and the file closed again
    (a reference the tests index by name); skips as :func:`shared_path` does."""
    import numpy as np  # noqa: PLC0415

    with np.load(shared_path(*parts)) as data:
        return {k: data[k] for k in data.files}
