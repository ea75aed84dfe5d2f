"""Explaining graph models: the chain engine's API (lrpcore.explain) over a DAG of nodes.

``Explainer(graph_model)`` returns a :class:`GraphExplainer`; its forward pass keeps every
tensor a later backward step needs, and :meth:`GraphForward.propagate` visits the nodes in
reverse topological order, summing the relevance of tensors read by several nodes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import graph_tensors
from .errors import RuleError, ShapeError
from .explain import Context, Explainer, Forward, LayerInputRange, RuleConfig
from .graph import GraphTrace, inside_mask, match_layer_key, role
from .graph_channels import ChannelSlice
from .graph_layers import Affine, Concat, Gate
from .graph_tensors import (
    LazyActivations,
    Shape,
    ShardedTrace,
    TensorStore,
    keep_and_drop,
    made_anyway,
)
from .parallel import (
    MIN_SHARD,
    MIN_SHARD_BYTES,
    SHARD_BYTES,
    run_sharded,
    shard_bounds,
    shard_count,
)
from .text import is_digits


class GraphForward(Forward):
    """A forward pass of a graph model: every tensor by name, per shard of the batch.

    On the CPU a batch of large samples (a 224×224 photograph keeps ~60 MB of tensors in
    EfficientNet-Lite0) runs as shards of a few samples in parallel threads: each shard's
    temporaries stay small enough to be reused rather than paged in afresh, and the element-wise
    work (most of a depthwise network's) uses every core.
    """

    def __init__(self, explainer, stores):
        self.explainer = explainer
        self.stores = list(stores)  # one TensorStore per shard
        super().__init__(explainer, shards=[self._node_activations(store.__getitem__)
                                            for store in self.stores])
        if len(self.shards) == 1:
            self._joined = self.shards[0]

    def _node_activations(self, fetch):
        ex = self.explainer
        return LazyActivations([ex.model.input_name] + [n.output for n in ex.nodes],
                               [n.inputs[0] for n in ex.nodes], fetch)

    @property
    def activations(self) -> list:
        """[x, output of node 0, ..., output of the last node] for the whole batch, each
        computed or joined on access."""
        if self._joined is None:
            xp = self.backend.xp
            self._joined = self._node_activations(
                lambda name: xp.concatenate([store[name] for store in self.stores]))
        return self._joined

    def subset(self, index) -> GraphForward:
        store = self.stores[0] if len(self.stores) == 1 else TensorStore.joined(self.stores)
        return GraphForward(self.explainer, [store.subset(index)])

    def propagate(self, R, config: RuleConfig, trace=False, to_numpy=True, condition=None):
        ex = self.explainer
        xp = self.backend.xp
        R = xp.asarray(R, dtype=ex.dtype)
        conditions = ex.condition_masks(condition, xp)
        ndims = {k: len(self.stores[0].shape(ex.nodes[k].output)) for k in conditions}
        jobs, start = [], 0
        for store in self.stores:
            stop = start + store.batch
            jobs.append((store, start, stop))
            start = stop
        parts = run_sharded(lambda job: self._propagate_shard(
            job[0], R[job[1]:job[2]], config, trace,
            _shard_masks(conditions, ndims, *job[1:], start)), jobs,
            split=ex.split_threads(start, self.stores[0].shape(ex.model.input_name)[1:]))
        R_in = parts[0][0] if len(parts) == 1 else xp.concatenate([p[0] for p in parts])
        if to_numpy:
            R_in = self.backend.to_numpy(R_in)
            self.check_finite(R_in, config)
        if not trace:
            return R_in
        shards = [GraphTrace(*self._host(p[1:], to_numpy)) for p in parts]
        return R_in, shards[0] if len(shards) == 1 else ShardedTrace(shards, np if to_numpy
                                                                     else xp)

    def _host(self, lists, to_numpy):
        """The trace lists of one shard, copied to the host when ``to_numpy``."""
        if not to_numpy:
            return lists
        return [[None if r is None else self.backend.to_numpy(r) for r in one]
                for one in lists]

    def _propagate_shard(self, tensors, R, config, trace, conditions):
        """(relevance at the input, per-node trace, received trace, merge branches) for one
        shard; the traces are lists of None unless ``trace``."""
        ex = self.explainer
        xp = self.backend.xp
        nodes = ex.nodes
        ctx = Context(xp, ex.dtype, ex.input_range)
        relevance = {nodes[-1].output: R}
        per_node = [None] * (len(nodes) + 1)
        per_node[-1] = R
        received = [None] * len(nodes)
        branches = [None] * len(nodes)
        with np.errstate(all="ignore"):  # a division by zero is reported by check_finite
            for k in range(len(nodes) - 1, -1, -1):
                node = nodes[k]
                Rk = relevance.pop(node.output, None)
                if Rk is None:  # nothing flows back through this node
                    if trace:
                        per_node[k] = xp.zeros(tensors.shape(node.inputs[0]), ex.dtype)
                        received[k] = xp.zeros(tensors.shape(node.output), ex.dtype)
                    continue
                if k in conditions:
                    Rk = Rk * _fit_mask(conditions[k], Rk.shape, k, node,
                                        ex.model.input_spec)
                if trace:
                    received[k] = Rk
                try:
                    parts = self._node_relevance(k, node, config.rules[k], Rk, ctx, tensors)
                except RuleError as exc:
                    raise RuleError(f"node {k} {node.name!r} ({node.layer.describe()}): "
                                    f"{exc}") from None
                for t, r in zip(node.inputs, parts, strict=True):
                    if t in relevance:
                        relevance[t] = relevance[t] + r
                    else:
                        relevance[t] = r
                if trace:
                    per_node[k] = (parts[0] if len(parts) == 1 or isinstance(node.layer, Gate)
                                    else _joined(parts, xp))
                    if len(parts) > 1:  # what each input of a merge received, per sample
                        branches[k] = xp.stack([p.reshape(p.shape[0], -1).sum(axis=1)
                                                for p in parts], axis=1)
        R_in = relevance.get(ex.model.input_name)
        if R_in is None:
            R_in = xp.zeros(tensors.shape(ex.model.input_name), ex.dtype)
        return R_in, per_node, received, branches

    def _node_relevance(self, k, node, rule, R, ctx, tensors):
        """Relevance at node k's inputs, fetching only the tensors its role reads."""
        ex = self.explainer
        layer, role = node.layer, ex.roles[k]
        if role == "merge":
            stabilizer = getattr(rule, "stabilizer", None)  # an ε-rule (resolve_rules checks)
            eps = None if stabilizer is None else stabilizer(layer)
            if eps is None:
                eps = ex.convention.norm.epsilon if ex.convention.norm is not None else 1e-6
            ins = [tensors[t] for t in node.inputs]
            return layer.split(ins, tensors[node.output], R, eps, ctx.xp)
        if role in ("linear", "maxpool"):
            if rule is None and getattr(layer, "unruled_pass", False):
                return [R]  # an unfoldable BatchNorm: zennit's composites pass it (Pass)
            if rule is None:
                raise RuleError("no rule was chosen for this layer")
            inside = inside_mask(ex.nodes, k, ex.producers, tensors, ctx.xp, ex.dtype,
                                 ex._inside)
            if inside is not None:
                ctx = replace(ctx, inside=inside)
            x, y = tensors[node.inputs[0]], tensors[node.output]
            if role == "linear":
                return [rule.linear(layer, x, y, R, ctx)]
            return [rule.maxpool(layer, x, y, R, ctx)]
        if role == "reshape":
            return [layer.relevance_back(R, Shape(tensors.shape(node.inputs[0])), ctx.xp)]
        if role == "gradient":  # e.g. a final LogSoftmax, as zennit's autograd passes it
            x, y = tensors[node.inputs[0]], tensors[node.output]
            return [layer.gradient(x, y, R, ctx.xp, ex.dtype)]
        return [R]


def _shard_masks(conditions, ndims, start, stop, n):
    """The condition masks for samples start..stop of n: a mask with a batch axis (as many
    axes as the node's output, ``ndims[k]``) is sliced; a per-sample mask applies as it is."""
    if (start, stop) == (0, n):
        return conditions
    return {k: m[start:stop] if m.ndim == ndims[k] and m.shape[0] == n else m
            for k, m in conditions.items()}


def _joined(parts, xp):
    """Relevance at a merge's inputs as one array for traces: summed where the shapes agree
    (Add), concatenated along channels where only the channels differ (Concat). (A Gate's
    trace is its map's part; the gate's part is its branch's.)"""
    if parts[0].shape[1:-1] != parts[-1].shape[1:-1]:
        return parts[0]  # a broadcast operand: what the full-size input received
    if all(p.shape == parts[0].shape for p in parts):
        out = parts[0].copy()
        for p in parts[1:]:
            out += p
        return out
    return xp.concatenate(parts, axis=-1)


class GraphExplainer(Explainer):
    """Explains a graph model on one backend and dtype (see lrpcore.explain.Explainer)."""

    def __init__(self, model, backend=None, dtype=None, threads=None):
        super().__init__(model, backend, dtype, threads=threads)
        self.nodes = model.analysis_nodes()
        self.convention = model.convention
        self.producers = {n.output: k for k, n in enumerate(self.nodes)}
        # an unknown layer kind fails here, not mid-explanation
        self.roles = [role(node.layer) for node in self.nodes]
        self._kept, self._dropped = keep_and_drop(model, self.nodes)
        self._kept_small = self._kept | made_anyway(self.nodes, self._dropped)
        self._remade_bytes = {}
        self._shapes = {}
        self._sample_bytes = {}
        bounds = None if model.input_spec is None else model.input_spec.channel_range()
        if bounds is not None:  # zB's bounds per channel (the engine's channels come last)
            self.input_range = tuple(np.asarray(v, dtype=self.dtype) for v in bounds)
        self._given_range = self.input_range  # before any mapping (first_layer_range)
        self._first_range = False  # first_layer_range, once computed
        # zennit's EpsilonGammaBox(low, high) takes the input's bounds at the first linear
        # layer as they are, through any normalisation inside the model; only bounds that do
        # not fit that layer's channels are mapped to what it sees
        if self.input_range is not None and not _fits_channels(model, self.nodes,
                                                               self.input_range):
            mapped = _through_affines(self.nodes, model.input_name, *self.input_range)
            if mapped is not None and not _fits_channels(model, self.nodes, mapped):
                mapped = None  # bounds of another length than that layer's channels
            if mapped is not None:  # one value when every channel has the same (as before)
                self.input_range = tuple(
                    float(v.reshape(-1)[0]) if np.all(v == v.reshape(-1)[0])
                    else np.asarray(v, dtype=self.dtype) for v in mapped)

    def first_layer_range(self):
        """The input's range mapped through the Affine and Scale nodes before the first
        linear layer (:func:`_through_affines`), when there are such nodes and the result
        fits that layer's channels; else None."""
        if self._first_range is False:  # not yet known (the model does not change)
            self._first_range = None
            mapped = None if self._given_range is None else _through_affines(
                self.nodes, self.model.input_name, *self._given_range)
            if mapped is not None and _fits_channels(self.model, self.nodes, mapped):
                first = next(k for k, n in enumerate(self.nodes) if n.layer.role == "linear"
                             and not isinstance(n.layer, Affine))
                self._first_range = LayerInputRange(first, *mapped)
        return self._first_range

    def run_layers(self, a):
        """The explained nodes applied to a device array (no checks, nothing kept)."""
        return self.model.run(a, self.backend.xp, nodes=self.nodes)

    def condition_masks(self, condition, xp):
        """{node index: mask on the device} from keys as per-layer rules take them: indices,
        node names, globs of names or module paths (every node a glob matches gets the mask,
        pads and reshapes left out; a key matching none is a RuleError)."""
        out = {}
        names = [n.name for n in self.nodes]
        for key, mask in (condition or {}).items():
            if isinstance(key, str) and not is_digits(key.strip()):
                hits = match_layer_key(key, names, [n.layer for n in self.nodes])
                if len(hits) > 1:  # a glob: not the pads and reshapes the importer adds
                    hits = [k for k in hits if role(self.nodes[k].layer) != "reshape"] or hits
            elif isinstance(key, (int, np.integer, str)) and not isinstance(key, bool):
                hits = [int(key)]
                if not 0 <= hits[0] < len(self.nodes):
                    raise RuleError(f"node {hits[0]} does not exist (0..{len(self.nodes) - 1})")
            else:
                raise RuleError(f"condition key {key!r} is neither a node index nor a name")
            device_mask = xp.asarray(mask, dtype=self.dtype)
            if not bool(xp.isfinite(device_mask).all()):
                raise ShapeError(f"condition on node {hits[0]} {names[hits[0]]!r}: the mask "
                                 "holds NaN or infinite values")
            for k in hits:
                out[k] = device_mask
        return out

    def sample_bytes(self, sample_shape) -> int:
        """Bytes of the tensors a forward pass keeps per sample, and of the most a layer
        holds only while it runs (a dilated convolution's gathered input phases and their
        outputs, up to (s/g)² of its output where strided: uncounted, batches were not cut
        to fit); 0 for a shape that does not fit the model: the input check reports that."""
        sample_shape = tuple(sample_shape)
        if sample_shape not in self._sample_bytes:  # asked by every pass: sharding, splitting
            try:
                shapes = self.tensor_shapes(sample_shape)
            except ShapeError:
                return 0
            kept = sum(int(np.prod(shapes[name])) for name in self._kept)
            working = max((n.layer.work_values(shapes[n.inputs[0]]) for n in self.nodes
                           if hasattr(n.layer, "work_values")), default=0)
            self._sample_bytes[sample_shape] = (kept + working) * self.dtype.itemsize
        return self._sample_bytes[sample_shape]

    def remade_bytes(self, sample_shape) -> int:
        """Bytes per sample of the tensors a small pass keeps instead of remaking them."""
        sample_shape = tuple(sample_shape)
        if sample_shape not in self._remade_bytes:
            try:
                shapes = self.tensor_shapes(sample_shape)
            except ShapeError:
                return 0
            self._remade_bytes[sample_shape] = self.dtype.itemsize * sum(
                int(np.prod(shapes[name])) for name in self._kept_small - self._kept)
        return self._remade_bytes[sample_shape]

    def forward(self, x, raw=False) -> GraphForward:
        return self.forward_prepared(self.user_prepare(x, raw))

    def forward_prepared(self, x) -> GraphForward:
        a = self.on_device(x)
        xp = self.backend.xp
        bounds = self.shard_bounds(a.shape[0], a.shape[1:])

        shapes = self.tensor_shapes(a.shape[1:])

        small = a.shape[0] * self.remade_bytes(a.shape[1:]) <= graph_tensors.KEEP_REMADE_BYTES
        keep = self._kept_small if small else self._kept

        def run(ab):
            with np.errstate(all="ignore"):
                kept = self.model.run(a[ab[0]:ab[1]], xp, nodes=self.nodes, keep=keep)
            return TensorStore(kept, self._dropped, shapes, xp)

        split = self.split_threads(a.shape[0], a.shape[1:])
        return GraphForward(self, run_sharded(run, bounds, split=split))

    def tensor_shapes(self, sample_shape) -> dict:
        """{tensor name: per-sample shape} for inputs of ``sample_shape``."""
        sample_shape = tuple(sample_shape)
        if sample_shape not in self._shapes:
            shapes = self.model.shapes(sample_shape)
            self._shapes[sample_shape] = {
                self.model.input_name: sample_shape,
                **{n.output: s for n, s in zip(self.nodes, shapes, strict=False)}}
        return self._shapes[sample_shape]

    def shard_bounds(self, n, sample_shape) -> list[tuple[int, int]]:
        """(start, stop) of the shards a batch of ``n`` samples runs as (see GraphForward):
        small samples shard as chains do, but a shard needs only MIN_SHARD_BYTES of tensors
        rather than MIN_SHARD samples; large samples in shards of SHARD_BYTES of tensors."""
        if self.threads <= 1 or n < 2:
            return [(0, n)]
        per_sample = self.sample_bytes(sample_shape)
        if per_sample * MIN_SHARD <= SHARD_BYTES:
            fewest = max(1, min(MIN_SHARD, -(-MIN_SHARD_BYTES // max(1, per_sample))))
            return shard_bounds(n, shard_count(n, self.threads, per_sample, fewest))
        return shard_bounds(n, -(-n // max(1, SHARD_BYTES // per_sample)))

    def split_threads(self, n, sample_shape) -> int:
        """Cores a pass of ``n`` samples that runs as one shard splits its kernels over
        (``lrpcore.parallel.all_cores``): a pass under MIN_SHARD_BYTES of tensors (a digit)
        stays on one, where a hand-off would cost more than its kernels."""
        if n * self.sample_bytes(sample_shape) < MIN_SHARD_BYTES:
            return 1
        return self.threads

    @property
    def min_pass_samples(self) -> int:
        """A pass holds at least one sample per CPU thread, so that samples over PASS_BYTES
        each (photographs) still run in parallel shards."""
        return self.threads


def _fits_channels(model, nodes, bounds) -> bool:
    """Whether per-channel ``bounds`` (one value, or one per channel) fit the channels of the
    first linear layer's input: ``torch.cat([x * 0.5, x[:, :1] * 2], 1)`` mapped a scale
    taken along the width before the layout change into 6 + 1 bounds for 4 channels, and
    every zB explanation ended in a broadcast error (internal error)."""
    try:
        shapes = dict(zip((n.output for n in model.nodes), model.shapes(), strict=True))
    except (ShapeError, ValueError):
        return False
    shapes[model.input_name] = tuple(model.input_spec.shape)
    first = next((n for n in nodes if n.layer.role == "linear"
                  and not isinstance(n.layer, Affine)), None)
    if first is None or first.inputs[0] not in shapes:
        return False
    channels = shapes[first.inputs[0]][-1]
    return all(np.size(v) in (1, channels) for v in bounds)


def _through_affines(nodes, name, low, high):
    """zB's bounds at the first linear layer when per-channel Affine or Scale nodes (a Keras
    Rescaling or BatchNormalization on the input, ``(x − mean) / std`` in a PyTorch model's
    ``forward``, GoogLeNet's ``transform_input``: each channel sliced, scaled, concatenated
    again) come before it: the input range mapped through them, as the layer sees it (None
    when there is none). Used only where the input's own bounds do not fit that layer's
    channels; otherwise they stay as given, as zennit keeps them. Other layers on the way
    (layout changes, pads) keep the bounds; at a merge with a tensor not computed from the
    input this way they are the ones reached."""
    known = {name: tuple(np.asarray(v, dtype=np.float64) for v in (low, high))}
    mapped, last = False, None
    for node in nodes:
        ins = [known.get(t) for t in node.inputs]
        if all(b is None for b in ins):
            continue
        layer = node.layer
        if layer.role == "linear" and not isinstance(layer, Affine) or None in ins:
            last = ins[0] or last  # the first linear layer, or a merge: bounds reached
            break
        lo, hi = ins[0]
        if isinstance(layer, Affine):  # a BatchNorm; a Scale: (x − mean) / std in forward
            if lo.size > 1 and layer.scale.size not in (1, lo.size):
                return None  # an Affine along another axis: bounds per channel do not map
            a, b = lo * layer.scale + layer.shift, hi * layer.scale + layer.shift
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            mapped = True
        elif isinstance(layer, ChannelSlice) and lo.size > 1:
            lo, hi = lo[layer.start:layer.stop], hi[layer.start:layer.stop]
        elif isinstance(layer, Concat):
            # a channel left unscaled keeps the input's one range, a 0-d array (b[0][0] of it
            # was an internal error: transform_input with a channel passed as it is)
            if all(b[0].size == 1 for b in ins) and len({
                    (float(np.ravel(b[0])[0]), float(np.ravel(b[1])[0])) for b in ins}) == 1:
                pass  # one range for every channel
            elif all(b[0].ndim == 1 for b in ins):
                lo, hi = (np.concatenate([b[k] for b in ins]) for k in (0, 1))
            else:
                return None
        known[node.output] = last = (lo, hi)
    return last if mapped else None


def _fit_mask(mask, shape, k, node, spec):
    """A condition mask that fits the node's output (batch shape ``shape``, with or without the
    batch axis): as the engine stores it (H×W×C), or, for a channels-first model, C×H×W as its
    users see it; anything else is a one-line ShapeError (was numpy's broadcast error)."""
    def fits(m):
        try:
            return np.broadcast_shapes(m.shape, shape) == tuple(shape)
        except ValueError:
            return False

    if fits(mask):
        return mask
    nchw = spec is not None and spec.layout == "NCHW" and len(shape) == 4
    if nchw and mask.ndim in (3, 4):
        moved = mask.transpose((1, 2, 0) if mask.ndim == 3 else (0, 2, 3, 1))
        if fits(moved):
            return moved
    want = "×".join(map(str, shape[1:]))
    if nchw:
        want += f" (or {shape[3]}×{shape[1]}×{shape[2]}, channels first)"
    raise ShapeError(f"condition on node {k} {node.name!r}: a mask of shape "
                     f"{'×'.join(map(str, mask.shape))} does not fit its output {want}")
