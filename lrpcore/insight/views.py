"""Views of a cached forward pass: one sample of it, or one sample repeated for many targets.

Both reuse the cached activations (no new forward pass); a repeated view lets one backward
pass with a batch of K explain K classes of the same sample at once.
"""

from __future__ import annotations

from ..errors import ShapeError
from ..explain import Forward


def batch_size(forward: Forward) -> int:
    return int(forward.activations[0].shape[0])


def sample_view(forward: Forward, index: int) -> Forward:
    """The forward pass of sample ``index`` alone (a batch of one)."""
    n = batch_size(forward)
    try:
        i = int(index)
    except (TypeError, ValueError):
        raise ShapeError(f"sample index {index!r} is not an integer") from None
    if not -n <= i < n:
        raise ShapeError(f"sample {i} does not exist: the batch holds samples 0..{n - 1}")
    i %= n
    if n == 1:
        return forward
    return forward.subset(slice(i, i + 1))


def repeated_view(forward: Forward, k: int) -> Forward:
    """A batch of one sample repeated ``k`` times (for k targets in one backward pass)."""
    if batch_size(forward) != 1:
        raise ShapeError("repeated_view needs a forward pass of one sample")
    return forward.subset(forward.backend.xp.zeros(int(k), dtype=int))
