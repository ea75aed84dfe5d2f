"""Make the Keras zoo fixture: a small Keras network exported by tf2onnx, with zennit's relevance.

Run by hand in a scratch environment with tensorflow-cpu (Keras 3), tf2onnx, torch, zennit 0.5.1
and onnx (none is a dependency of this project)::

    /tmp/zvenv/bin/python tools/make_zoo_keras_fixture.py tests/data/zoo

The network takes N×H×W×C: Conv2D (stride 2, "same": TensorFlow pads only the bottom and right)
with BatchNormalization (tf2onnx folds it into the convolution), ReLU, a depthwise/pointwise
residual block with ReLU6 and ``Add``, MaxPooling2D, two branches concatenated along channels,
AveragePooling2D, LeakyReLU, Flatten (H, W, C order), Dense layers with Dropout. Writes
``keras_tf2onnx.onnx`` (``model.export(..., format="onnx")``) and ``keras.npz``: ``x``
(N×H×W×C float64 in [0, 1]), ``Y`` and ``R__<preset>`` (N×H×W×C) as ``make_zoo_fixtures.py``
writes them, ``mean``/``std`` 0 and 1 (zB's bounds: [0, 1]).

zennit cannot read Keras, so the reference runs on a PyTorch twin built by hand from the Keras
layers' semantics, with the Keras weights (and, for the folded convolution, the weights tf2onnx
wrote): it permutes the input to N×C×H×W, pads "same" inside the convolution module (as the
shared EfficientNet reference does, so padded border entries take no part in flat and zB),
routes the residual addition through zennit's ``Sum``, and flattens in H, W, C order. The
twin's outputs are checked against Keras's own before anything is written.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import subprocess  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402

if "--keras-part" in sys.argv:
    import keras
    from keras import layers
else:
    import onnx
    import torch
    from make_zoo_fixtures import Merge, references
    from onnx import numpy_helper
    from torch import nn

SHAPE = (16, 16, 3)
CLASSES = 5


def keras_model(seed):
    keras.utils.set_random_seed(seed)
    inp = keras.Input(SHAPE, name="input")
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem")(inp)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU()(x)
    y = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    y = layers.ReLU(6.0)(y)
    y = layers.Conv2D(8, 1, name="pw")(y)
    x = layers.Add()([x, y])
    x = layers.MaxPooling2D(2)(x)
    a = layers.Conv2D(4, 1, activation="relu", name="branch_a")(x)
    b = layers.Conv2D(4, 3, padding="same", activation="relu", name="branch_b")(x)
    x = layers.Concatenate()([a, b])
    x = layers.AveragePooling2D(2)(x)
    x = layers.LeakyReLU(0.1)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu", name="fc1")(x)
    x = layers.Dropout(0.5)(x)
    out = layers.Dense(CLASSES, name="fc2")(x)
    model = keras.Model(inp, out)
    randomise(model, np.random.default_rng(seed))
    return model


def randomise(model, rng):
    """Random biases and BatchNorm statistics instead of Keras's zeros and ones, so that every
    term of the references counts (a layer's last weight, of several, is its bias)."""
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, layers.BatchNormalization):
            n = weights[0].shape[0]
            weights = [0.5 + rng.random(n), 0.3 * rng.standard_normal(n),
                       0.2 * rng.standard_normal(n), 0.5 + rng.random(n)]
        elif len(weights) >= 2:
            weights[-1] = 0.1 * rng.standard_normal(weights[-1].shape)
        else:
            continue
        layer.set_weights([np.asarray(w, dtype=np.float32) for w in weights])


def export_centred(model, x, last, path):
    """Shift layer ``last``'s bias so that the logits of ``x`` centre on zero (several classes
    are predicted, not one; a map's over its samples and pixels), then export the model to
    ONNX at ``path`` (tf2onnx)."""
    layer = model.get_layer(last)
    kernel, bias = layer.get_weights()
    y = model(x.astype(np.float32)).numpy()
    layer.set_weights([kernel, bias - y.mean(tuple(range(y.ndim - 1)))])
    model.export(path, format="onnx")


def finish_map_keras_part(model, seed, shape, convs, out_dir, name, handover):
    """The end the map fixtures' Keras parts share: random biases from ``default_rng(seed)``,
    256 samples of ``shape`` in [0, 1) from it, the classifier ``cls`` centred and the model
    exported as ``<name>_tf2onnx.onnx``, and the hand-over of ``x``, Keras's maps and the
    ``convs``' weights (:func:`write_map_fixture` loads them into the twin)."""
    rng = np.random.default_rng(seed)
    randomise(model, rng)
    x = rng.random((256,) + tuple(shape))
    export_centred(model, x, "cls", os.path.join(out_dir, f"{name}_tf2onnx.onnx"))
    weights = {f"{conv}/{k}": w for conv in convs
               for k, w in enumerate(model.get_layer(conv).get_weights())}
    np.savez(handover, x=x, keras_y=model(x.astype(np.float32)).numpy(), **weights)


def finish_keras_part(inp, out, seed, handover, export):
    """The end the Keras parts share: the model ``inp`` → ``out`` with random biases and
    BatchNorm statistics, 64 samples in [0, 1) from the same ``default_rng(seed)``,
    ``export(model, x)`` (e.g. :func:`export_centred`) and the hand-over of ``x`` with
    Keras's outputs (the twin is checked against them)."""
    model = keras.Model(inp, out)
    rng = np.random.default_rng(seed)
    randomise(model, rng)
    x = rng.random((64,) + tuple(inp.shape[1:]))
    export(model, x)
    np.savez(handover, x=x, keras_y=model(x.astype(np.float32)).numpy())


def make_twin():
    """The PyTorch twin (classes defined here: the Keras process has no torch)."""

    class SameConv(nn.Conv2d):
        """A convolution with TensorFlow's "same" padding done inside the module."""

        def __init__(self, *args, pads=(0, 0, 0, 0), **kwargs):
            super().__init__(*args, **kwargs)
            self.pads = pads  # left, right, top, bottom

        def forward(self, x):
            return super().forward(nn.functional.pad(x, self.pads))

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = SameConv(3, 8, 3, 2, pads=(0, 1, 0, 1))
            self.relu = nn.ReLU()
            self.dw = nn.Conv2d(8, 8, 3, 1, 1, groups=8)
            self.relu6 = nn.ReLU6()
            self.pw = nn.Conv2d(8, 8, 1)
            self.merge = Merge()
            self.maxpool = nn.MaxPool2d(2)
            self.branch_a, self.relu_a = nn.Conv2d(8, 4, 1), nn.ReLU()
            self.branch_b, self.relu_b = nn.Conv2d(8, 4, 3, 1, 1), nn.ReLU()
            self.avgpool = nn.AvgPool2d(2)
            self.leaky = nn.LeakyReLU(0.1)
            self.fc1, self.relu_fc, self.drop = nn.Linear(32, 16), nn.ReLU(), nn.Dropout(0.5)
            self.fc2 = nn.Linear(16, CLASSES)

        def forward(self, x):
            x = self.relu(self.stem(x.permute(0, 3, 1, 2)))
            x = self.maxpool(self.merge(x, self.pw(self.relu6(self.dw(x)))))
            x = torch.cat([self.relu_a(self.branch_a(x)), self.relu_b(self.branch_b(x))], 1)
            x = self.leaky(self.avgpool(x)).permute(0, 2, 3, 1).flatten(1)
            return self.fc2(self.drop(self.relu_fc(self.fc1(x))))

    return Twin().eval()


def twin_of(weights, onnx_path):
    twin = make_twin()
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731

    def conv(module, kernel, bias):
        module.weight.data, module.bias.data = t(kernel).permute(3, 2, 0, 1), t(bias)

    # the stem as tf2onnx wrote it (BatchNorm folded): the Conv reading the input
    nodes, inits = exported_graph(onnx_path)
    stem = next(n for n in nodes if n.op_type == "Conv")
    twin.stem.weight.data = t(inits[stem.input[1]])
    twin.stem.bias.data = t(inits[stem.input[2]])
    dw_kernel, dw_bias = weights["dw/0"], weights["dw/1"]
    twin.dw.weight.data, twin.dw.bias.data = t(dw_kernel).permute(2, 3, 0, 1), t(dw_bias)
    for name in ("pw", "branch_a", "branch_b"):
        conv(getattr(twin, name), weights[f"{name}/0"], weights[f"{name}/1"])
    for name in ("fc1", "fc2"):
        kernel, bias = weights[f"{name}/0"], weights[f"{name}/1"]
        getattr(twin, name).weight.data, getattr(twin, name).bias.data = t(kernel).T, t(bias)
    return twin


def keras_part(out_dir, handover):
    """In a process without torch: build, calibrate and export; hand over what the twin needs."""
    model = keras_model(7)
    rng = np.random.default_rng(107)
    x = rng.random((64,) + SHAPE)
    export_centred(model, x, "fc2", os.path.join(out_dir, "keras_tf2onnx.onnx"))
    weights = {f"{name}/{k}": w for name in ("dw", "pw", "branch_a", "branch_b", "fc1", "fc2")
               for k, w in enumerate(model.get_layer(name).get_weights())}
    np.savez(handover, x=x, keras_y=model(x.astype(np.float32)).numpy(), **weights)


def exported_graph(path):
    """(nodes in graph order, initializers as float64 arrays by name) of the file tf2onnx
    wrote: what a twin reads its numbers from."""
    proto = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in proto.graph.initializer}
    return list(proto.graph.node), inits


def script_main(keras_part, main):
    """A Keras fixture script's command line: ``OUT_DIR`` (default tests/data/zoo) runs
    ``main``, which runs the script again with ``--keras-part HANDOVER`` for ``keras_part``."""
    if "--keras-part" in sys.argv:
        keras_part(sys.argv[1], sys.argv[3])
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/zoo")


def run_keras_part(script, out_dir) -> dict:
    """Run ``script``'s Keras part in its own process (TensorFlow and PyTorch crash in one),
    which writes its ONNX file into ``out_dir``, and return what it hands over."""
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        handover = os.path.join(tmp, "keras.npz")
        subprocess.run([sys.executable, script, out_dir, "--keras-part", handover],
                       check=True)
        with np.load(handover) as data:
            return {k: data[k] for k in data.files}


def write_fixture(script, out_dir, name, twin_for, twin_output=None, tolerance=None,
                  keep_keras=False):
    """Run ``script``'s Keras part in a process of its own (it writes ``<name>_tf2onnx.onnx``
    and hands over ``x`` and Keras's outputs ``keras_y``), build the PyTorch twin with
    ``twin_for(handed_over, onnx_path)``, check ``twin_output(twin, x)`` (default: the twin's
    output) against Keras's within ``tolerance(keras's)`` (default: 1e-4 of its largest) on
    four samples (at most two per predicted class), and write ``<name>.npz`` with zennit's
    relevance (and, with ``keep_keras``, Keras's own float32 outputs as ``keras_y``). Shared
    by the Keras fixture scripts."""
    twin_output = twin_output or (lambda twin, x: twin(x))
    tolerance = tolerance or (lambda keras_y: 1e-4 * np.abs(keras_y).max())
    got = run_keras_part(script, out_dir)
    twin = twin_for(got, os.path.join(out_dir, f"{name}_tf2onnx.onnx")).double()
    x, keras_y = got["x"], got["keras_y"]
    picked, seen = [], {}
    for i, p in enumerate(keras_y.argmax(1)):
        if seen.get(p, 0) < 2:
            picked.append(i)
            seen[p] = seen.get(p, 0) + 1
        if len(picked) == 4:
            break
    x, theirs = x[picked], keras_y[picked]
    with torch.no_grad():
        mine = twin_output(twin, torch.as_tensor(x)).numpy()
    assert np.abs(mine - theirs).max() < tolerance(theirs), (mine, theirs)
    # zB's bounds in the twin's channels-first layout: N×C×H×W (N×C×L for a sequence)
    first = (x.shape[0], x.shape[-1]) + tuple(x.shape[1:-1])
    ref = references(twin, x, (0.0,), (1.0,), first_conv_input=first)
    if keep_keras:
        ref["keras_y"] = theirs
    np.savez_compressed(os.path.join(out_dir, f"{name}.npz"), x=x, mean=(0.0,), std=(1.0,),
                        **ref)
    print(name, "predicts", ref["Y"].argmax(1).tolist(), "twin − keras",
          float(np.abs(mine - theirs).max()))


def write_map_fixture(script, out_dir, name, make_twin, convs):
    """The segmentation counterpart of :func:`write_fixture`: run ``script``'s Keras part
    (it writes ``<name>_tf2onnx.onnx`` and hands over ``x`` and Keras's N×H×W×K maps
    ``keras_y``), load its Conv2D/Conv2DTranspose weights (``<conv>/0``, ``<conv>/1`` for each
    name in ``convs``) into ``make_twin()`` as float64, check the twin's maps against Keras's
    on the samples ``map_samples`` picks, and write ``<name>.npz``: ``x``, ``keras_y`` and
    zennit's map references. Shared by the map fixture scripts (keras_seg, keras_att)."""
    from make_zoo_fixtures import map_references, map_samples  # noqa: PLC0415

    got = run_keras_part(script, out_dir)
    twin = make_twin().double()
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    for conv in convs:
        module = getattr(twin, conv)
        kernel = t(got[f"{conv}/0"])  # Conv2D: kh×kw×in×out; Conv2DTranspose: kh×kw×out×in
        module.weight.data = kernel.permute(3, 2, 0, 1).contiguous()
        module.bias.data = t(got[f"{conv}/1"])
    keras_y = torch.as_tensor(got["keras_y"]).permute(0, 3, 1, 2)
    picked = map_samples(keras_y)
    x, theirs = got["x"][picked], got["keras_y"][picked]
    with torch.no_grad():
        mine = twin(torch.as_tensor(x)).permute(0, 2, 3, 1).numpy()
    gap = float(np.abs(mine - theirs).max())
    assert gap < 1e-5 * np.abs(theirs).max(), gap
    first = (x.shape[0], x.shape[-1]) + tuple(x.shape[1:-1])  # zB's bounds, N×C×H×W
    ref = map_references(twin, x, (0.0,), (1.0,), first_conv_input=first)
    np.savez_compressed(os.path.join(out_dir, f"{name}.npz"), x=x, mean=(0.0,), std=(1.0,),
                        keras_y=theirs, **ref)
    print(f"{name} predicts most", ref["target"].tolist(), "then", ref["second"].tolist(),
          "twin − keras", gap)


def main(out_dir):
    write_fixture(__file__, out_dir, "keras", twin_of)


if __name__ == "__main__":
    script_main(keras_part, main)
