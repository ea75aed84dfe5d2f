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
    return _rebuilt(forward, lambda a: a[i:i + 1], index=i)


def repeated_view(forward: Forward, k: int) -> Forward:
    """A batch of one sample repeated ``k`` times (for k targets in one backward pass)."""
    if batch_size(forward) != 1:
        raise ShapeError("repeated_view needs a forward pass of one sample")
    xp = forward.backend.xp
    return _rebuilt(forward, lambda a: xp.repeat(a, k, axis=0))


def _rebuilt(forward: Forward, batch, index=None):
    """The same kind of forward pass with ``batch`` applied to every kept array (of the shard
    holding sample ``index``, when given): a graph model's pass keeps its tensors by name per
    shard (a chain's Forward over a graph's activations would walk the nodes as a chain and
    give wrong maps)."""
    stores = getattr(forward, "stores", None)
    if stores is None:
        return Forward(forward.explainer, [batch(a) for a in forward.activations])
    if index is None:
        return type(forward)(forward.explainer, [s.with_batch(batch) for s in stores])
    start = 0
    for store in stores:
        if index < start + store.batch:
            i = index - start
            return type(forward)(forward.explainer,
                                 [store.with_batch(lambda a, i=i: a[i:i + 1])])
        start += store.batch
    raise ShapeError(f"sample {index} does not exist")
