"""Make the zoo fixtures: small random-weight PyTorch networks as ONNX plus zennit's relevance.

Run by hand in a scratch environment with torch, torchvision, zennit 0.5.1, onnx and onnxscript
(PyTorch is never a dependency of this project; the test suite only reads the files)::

    /tmp/zvenv/bin/python tools/make_zoo_fixtures.py tests/data/zoo [NAME ...]

Each architecture is a shape a held-back checker would plausibly bring (issue 12): a torchvision
ResNet with a max-pool stem and a strided 1×1 downsample on 3-channel input normalised per
channel, a DenseNet block (Concat along channels; BatchNorm → ReLU → Conv, so the BatchNorm
follows no linear layer), a MobileNetV2 (depthwise convolutions, ReLU6, residual Add without
activation), a VGG (MaxPool, zero-padded AvgPool, LeakyReLU, three Linear layers with Dropout,
``x.view(x.size(0), -1)``), a net with grouped convolutions and asymmetric ("same" with an
even kernel) padding, a SqueezeNet (``ceil_mode`` max pools, fire modules concatenated), an MLP
(BatchNorm on its flat input), a net of PReLU/ELU/SELU/Hardswish/Hardsigmoid/Sigmoid/SiLU
(also exported at opset 13, where Hardswish is a HardSigmoid and a Mul) and average pools that
count fewer entries (``count_include_pad=False``, ``ceil_mode``), and a grouped convolution as
the first layer (zB and flat there, bounds per channel); later: dilated convolutions and a
dilated max pool, activations exporters split into several operators (GELU, Softplus,
Softsign, CELU, LogSigmoid), an Inception block, a 1-D sequence classifier (N×C×L input:
Conv1d, pools, AdaptiveAvgPool1d) and ShuffleNetV2 units (channel split and shuffle); zoo4:
a classifier ending in ``nn.Softmax`` (``softmax``: ``Y`` holds the probabilities, the
predicted class's probability is explained), and pooling and activations called in
``forward`` (``functional``, ``mobiletail``, ``meansigmoid``, ``funcacts``), where zennit
hooks no module and takes the gradient: these references call them as the models do (no
module substituted); padding by copies of the input (``padmodes``: ``padding_mode`` reflect and
replicate, ``nn.ReflectionPad2d``, ``nn.ReplicationPad2d``; ``circular``: ``padding_mode``
circular, whose TorchScript export is refused); a custom pooling module
(``custompool``: ``F.adaptive_avg_pool2d`` and a flatten in a leaf module's forward); zoo5:
``modfuncs`` exported with ``export_modules_as_functions=True`` (``modfuncs_functions.onnx``
instead of ``_ts``): a custom ``Swish`` module beside ``nn.SiLU``, ``F.relu`` in a block;
``zsum``: additions through zennit's ``Sum`` layer inside the model, exported as they are;
``smooth_float64.onnx``: ``smooth`` exported in float64 (Cast around CELU); ``subclass``:
subclasses of ``nn.ReLU`` and ``nn.AvgPool2d`` (its dynamo export keeps its stack traces);
zoo6: ``grouped_noopt``, ``innorm_noopt``, ``shufflenet_noopt``, ``smooth_noopt``,
``funcacts_noopt``: ``dynamo=True`` without its
optimiser (``optimize=False``), as a checker keeping the BatchNorms writes them (``NOOPT``).
Stop 26: ``atrous``, DeepLab's atrous pyramid in small (appended last: seeds go by position);
``segment``, a small FCN whose output is an N×K×H×W map (``SEGMENT``: two samples; its
references start at the output times the mask of a class's pixels, see ``map_references``).
Stop 27: ``lraspp``, torchvision's LR-ASPP in small (``SEGMENT``; its head's addition through
``Merge``, as every addition here, which ``map_references`` routes through zennit's ``Sum``);
``segsoftmax``, ``segment``'s FCN ending in a softmax over each pixel's classes; ``attunet``,
an Attention U-Net in small (``SEGMENT``; a skip map times its attention gate's one-channel
sigmoid map, which zennit hooks nowhere: autograd passes the gradient to both factors);
``attgrid``, Oktay et al.'s own gate (α on a coarser grid, resized, ``α.expand_as(x) * x``).
``NAME ...`` after the folder makes only those (the seeds do not depend on it). Weights and
BatchNorm statistics are seeded random values; the files come out the same at every run.

For every model ``NAME``: ``NAME_ts.onnx`` (TorchScript exporter, batch axis dynamic),
``NAME_dynamo.onnx`` (``dynamo=True``, batch fixed at 1, as ``torch.onnx.export(model, (x,),
dynamo=True)`` writes it) and ``NAME.npz`` with the float64 input ``x`` (N×C×H×W), zennit's
outputs ``Y`` and relevance ``R__<preset>`` (float64) for ``epsilon_0p01``, ``EpsilonPlus``,
``EpsilonPlusFlat``, ``EpsilonAlpha2Beta1``, ``EpsilonAlpha2Beta1Flat``, ``EpsilonGammaBox``,
plus ``mean``/``std`` (per channel, the input specification's: the inputs are
``(pixels − mean)/std`` of uniform noise, and zB's bounds are the normalised images of 0 and 1).

How the references are made, as the shared ones (``../shared/reference/README.md`` §11):
- target: the predicted class; initial relevance: the output times its one-hot;
- model and input in float64 (``model.double()``);
- a BatchNorm right after a convolution is folded into it *before* export, in float32, the
  way the TorchScript exporter folds it (so both exports and zennit use the same weights);
  a BatchNorm after anything else stays a BatchNorm module (zennit's composites give it
  ``Pass``: relevance goes through unchanged) and is exported as ``BatchNormalization``;
  ``resnet_bn_dynamo.onnx`` with ``resnet_bn.npz`` keeps every BatchNorm unfolded (dynamo
  writes them as nodes) and its reference folds them exactly in float64;
- every residual addition goes through zennit's ``Sum`` layer when zennit runs (so the
  composites apply their Norm rule there, as zennit's ``ResNetCanonizer`` arranges for
  torchvision's blocks) and is a plain ``a + b`` when exported; this is the equivalent of
  a canonizer for these custom blocks;
- inputs are uniform noise (so no max-pool window ties and no prediction is degenerate); each
  file's samples are chosen to predict at least two different classes.
"""

from __future__ import annotations

import os
import re
import sys
import warnings

import numpy as np
import torch
from torch import nn
from zennit.attribution import Gradient
from zennit.composites import (
    EpsilonAlpha2Beta1,
    EpsilonAlpha2Beta1Flat,
    EpsilonGammaBox,
    EpsilonPlus,
    EpsilonPlusFlat,
    LayerMapComposite,
    layer_map_base,
)
from zennit.layer import Sum
from zennit.rules import Epsilon
from zennit.types import Convolution

warnings.filterwarnings("ignore")


class Merge(nn.Module):
    """a + b when exported; zennit's Sum (Norm rule) when ``zennit`` is set."""

    zennit = False

    def __init__(self):
        super().__init__()
        self.sum = Sum()

    def forward(self, a, b):
        if Merge.zennit:
            return self.sum(torch.stack([a, b], dim=-1))
        return a + b


def conv_bn(cin, cout, k, s=1, p=0, groups=1):
    return [nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, cout, 3, stride, 1)
        self.relu = nn.ReLU()
        self.conv2, self.bn2 = conv_bn(cout, cout, 3, 1, 1)
        self.downsample = nn.Sequential(*conv_bn(cin, cout, 1, stride)) \
            if stride != 1 or cin != cout else None
        self.merge = Merge()

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(self.merge(y, skip))


class ResNet(nn.Module):
    """torchvision's layout in small: conv/BN/ReLU stem, 3×3 max pool (pad 1), two blocks."""

    def __init__(self, classes=5):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(3, 8, 3, 1, 1)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = BasicBlock(8, 8, 1)
        self.layer2 = BasicBlock(8, 16, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class DenseLayer(nn.Module):
    """torchvision's _DenseLayer: BN → ReLU → 1×1 conv → BN → ReLU → 3×3 conv, concatenated."""

    def __init__(self, cin, growth):
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv1, self.norm2 = conv_bn(cin, 2 * growth, 1)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(2 * growth, growth, 3, 1, 1, bias=False)

    def forward(self, x):
        y = self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))
        return torch.cat([x, y], 1)


class DenseNet(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv0 = nn.Conv2d(1, 8, 3, 1, 1, bias=False)
        self.block = nn.Sequential(DenseLayer(8, 4), DenseLayer(12, 4))
        self.transition = nn.Sequential(nn.BatchNorm2d(16), nn.ReLU(),
                                        nn.Conv2d(16, 8, 1, bias=False), nn.AvgPool2d(2, 2))
        self.norm5, self.relu, self.pool = nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(8, classes)

    def forward(self, x):
        x = self.transition(self.block(self.conv0(x)))
        return self.classifier(torch.flatten(self.pool(self.relu(self.norm5(x))), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = []
        if expand != 1:
            layers += [*conv_bn(cin, hidden, 1), nn.ReLU6()]
        layers += [*conv_bn(hidden, hidden, 3, stride, 1, groups=hidden), nn.ReLU6(),
                   *conv_bn(hidden, cout, 1)]
        self.conv = nn.Sequential(*layers)
        self.merge = Merge()

    def forward(self, x):
        return self.merge(x, self.conv(x)) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, classes=6):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn(3, 8, 3, 2, 1), nn.ReLU6(),
            InvertedResidual(8, 8, 1, 1), InvertedResidual(8, 12, 2, 3),
            InvertedResidual(12, 12, 1, 3), *conv_bn(12, 24, 1), nn.ReLU6())
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(24, classes))

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class VGG(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3, 1, 1), nn.LeakyReLU(0.1), nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 8, 3, 1, 1), nn.LeakyReLU(0.1),
            nn.AvgPool2d(3, 2, 1),  # count_include_pad=True, PyTorch's default
            nn.AdaptiveAvgPool2d((2, 2)))  # 4×4 → 2×2, as torchvision's VGG has one
        self.classifier = nn.Sequential(
            nn.Linear(8 * 2 * 2, 32), nn.ReLU(), nn.Dropout(),
            nn.Linear(32, 16), nn.ReLU(), nn.Dropout(), nn.Linear(16, classes))

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


class Grouped(nn.Module):
    """'same' padding with an even kernel (asymmetric pads) and grouped convolutions."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 12, 4, padding="same"), nn.ReLU(),
            nn.Conv2d(12, 12, 3, 1, (1, 2), groups=3), nn.ReLU(),
            nn.Conv2d(12, 8, 3, 2, 0, groups=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class Fire(nn.Module):
    """SqueezeNet's fire module: a 1×1 squeeze, then 1×1 and 3×3 expands concatenated."""

    def __init__(self, cin, squeeze, expand):
        super().__init__()
        self.squeeze, self.squeeze_activation = nn.Conv2d(cin, squeeze, 1), nn.ReLU()
        self.expand1x1, self.expand1x1_activation = nn.Conv2d(squeeze, expand, 1), nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, expand, 3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """torchvision's SqueezeNet 1.1 in small: max pools with ceil_mode=True."""

    def __init__(self, classes=5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(8, 4, 6), nn.MaxPool2d(3, 2, ceil_mode=True), Fire(12, 4, 8))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(16, classes, 1), nn.ReLU(),
                                        nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class MLP(nn.Module):
    """Flat input: a BatchNorm on the input (nothing to fold into), Linear + BatchNorm1d."""

    def __init__(self, classes=4):
        super().__init__()
        self.net = nn.Sequential(nn.BatchNorm1d(20), nn.Linear(20, 16), nn.BatchNorm1d(16),
                                 nn.LeakyReLU(0.2), nn.Dropout(), nn.Linear(16, 12), nn.ReLU(),
                                 nn.Linear(12, classes))

    def forward(self, x):
        return self.net(x)


class Activations(nn.Module):
    """Element-wise activations zennit passes relevance through, as the exporters write them:
    one operator each, except SiLU (Sigmoid and Mul) and, before opset 14, Hardswish
    (HardSigmoid and Mul; ``activations_op13.onnx``). Softplus and Softsign become
    Where/Abs/Div graphs and are left out."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.PReLU(8), nn.Conv2d(8, 8, 3), nn.ELU(0.7),
            nn.Conv2d(8, 8, 1), nn.Hardswish(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1),
            nn.SELU(), nn.Conv2d(8, 8, 1), nn.Hardsigmoid(), nn.Conv2d(8, 8, 1), nn.Sigmoid(),
            nn.Conv2d(8, 8, 1), nn.SiLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(8, 12), nn.PReLU(), nn.Linear(12, classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class AvgPools(nn.Module):
    """Average pools whose windows count fewer entries: ``count_include_pad=False``, and
    ``ceil_mode`` (ResNet-D's downsampling ``AvgPool2d(2, 2, ceil_mode=True,
    count_include_pad=False)``), with and without counting the padding."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
            nn.AvgPool2d(3, 1, 1, count_include_pad=False),
            nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(),
            nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(3, 2, 1, ceil_mode=True),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        return self.fc(self.features(x))


class GroupFirst(nn.Module):
    """A grouped convolution as the first layer: zB and flat on it, bounds per channel."""

    def __init__(self, classes=3):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, groups=3), nn.ReLU(),
                                      nn.Conv2d(6, 4, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                      nn.Flatten())
        self.fc = nn.Linear(4, classes)

    def forward(self, x):
        return self.fc(self.features(x))


class Dilated(nn.Module):
    """Dilated convolutions (DeepLab-style, dilated ResNets) as the first layer (flat and zB
    see the taps only), grouped and with unequal dilations, without biases; a dilated
    max pool."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=2, dilation=2), nn.ReLU(),
            nn.MaxPool2d(3, 1, padding=1, dilation=2),
            nn.Conv2d(8, 8, 3, stride=2, padding=(1, 2), dilation=(1, 2), groups=2,
                      bias=False), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding="same", dilation=3, bias=False), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        return self.fc(self.features(x))


class Atrous(nn.Module):
    """DeepLab's atrous pyramid in small, as the phase form computes it: a dilated depthwise
    convolution (MobileNetV3's dilated stages), a strided one whose stride and dilation share
    no factor (2 and 3), and branches at dilations 2, 6 and 12 on an 8×8 map (12: beyond the
    map, each phase makes one output) beside a 1×1 one, concatenated and projected."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 12, 3, stride=2, padding=3, dilation=3), nn.ReLU())
        self.branches = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(12, 6, 1), nn.ReLU())]
            + [nn.Sequential(nn.Conv2d(12, 6, 3, padding=d, dilation=d), nn.ReLU())
               for d in (2, 6, 12)])
        self.project = nn.Sequential(nn.Conv2d(24, 8, 1), nn.BatchNorm2d(8), nn.ReLU(),
                                     nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = self.features(x)
        return self.fc(self.project(torch.cat([b(x) for b in self.branches], 1)))


class Smooth(nn.Module):
    """Activation modules zennit passes relevance through that exporters write as several
    operators or as operators of their own: GELU (Div, Erf, Add, Mul, Mul; opset 20's Gelu),
    tanh-approximated GELU (Pow, Tanh, ...), Softplus (dynamo adds its threshold as Greater
    and Where), Softsign (Abs, Add, Div), CELU, LogSigmoid (Sigmoid, Log), Tanh, Hardtanh."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.GELU(), nn.Conv2d(8, 8, 3),
            nn.GELU(approximate="tanh"), nn.Conv2d(8, 8, 1), nn.Softplus(),
            nn.Conv2d(8, 8, 3, padding=1), nn.Softsign(), nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 1), nn.CELU(0.5), nn.Conv2d(8, 8, 1), nn.LogSigmoid(),
            nn.Conv2d(8, 8, 1), nn.Tanh(), nn.Conv2d(8, 8, 1), nn.Hardtanh(-0.5, 0.5),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(8, 12), nn.GELU(), nn.Linear(12, classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class Inception(nn.Module):
    """GoogLeNet's block in small: 1×1, 1×1 → 3×3, 1×1 → 5×5 and 3×3 max pool → 1×1
    branches concatenated along channels."""

    def __init__(self, classes=4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.b1 = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU())
        self.b2 = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1),
                                nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(8, 2, 1), nn.ReLU(), nn.Conv2d(2, 4, 5, padding=2),
                                nn.ReLU())
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(8, 4, 1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(18, classes)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)
        return self.fc(torch.flatten(self.pool(x), 1))


class Sequence(nn.Module):
    """A 1-D convolutional sequence classifier (N×C×L input): Conv1d with BatchNorm1d,
    MaxPool1d, a dilated Conv1d, AvgPool1d, a grouped Conv1d, AdaptiveAvgPool1d to a length
    that divides, flatten (C, L order) and Linear."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(4, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(8, 8, 3, dilation=2, padding=2), nn.ReLU(), nn.AvgPool1d(2),
            nn.Conv1d(8, 8, 3, padding=1, groups=2), nn.ReLU(), nn.AdaptiveAvgPool1d(2))
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


def channel_shuffle(x, groups):
    """torchvision's ShuffleNetV2 channel shuffle: view, transpose, view."""
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    return torch.transpose(x, 1, 2).contiguous().view(n, c, h, w)


class ShuffleUnit(nn.Module):
    """torchvision's ShuffleNetV2 InvertedResidual: a strided unit runs two branches on the
    whole input, a unit of stride 1 splits the channels (``x.chunk``) and runs one; both
    concatenate and shuffle."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride, half = stride, cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(*conv_bn(cin, cin, 3, stride, 1, groups=cin),
                                         *conv_bn(cin, half, 1), nn.ReLU())
        self.branch2 = nn.Sequential(*conv_bn(cin if stride > 1 else half, half, 1), nn.ReLU(),
                                     *conv_bn(half, half, 3, stride, 1, groups=half),
                                     *conv_bn(half, half, 1), nn.ReLU())

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNet(nn.Module):
    """ShuffleNetV2 in small (channel split and shuffle); pooled by the module, where
    torchvision's ``x.mean([2, 3])`` would get zennit's gradient instead of its Norm rule."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv1 = nn.Sequential(*conv_bn(3, 8, 3, 1, 1), nn.ReLU())
        self.stage = nn.Sequential(ShuffleUnit(8, 16, 2), ShuffleUnit(16, 16, 1))
        self.conv5 = nn.Sequential(*conv_bn(16, 16, 1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.conv5(self.stage(self.conv1(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class LogSoftmaxNet(nn.Module):
    """PyTorch's MNIST example in small: functional ReLU and max pool, Dropout, and
    ``F.log_softmax`` as the output (zennit's gradient there; Y holds log-probabilities);
    padded convolutions, so that the black border of its binary inputs makes max-pool
    windows of equal values."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 3, 1, 1), nn.Conv2d(6, 8, 3, 1, 1)
        self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
        self.fc1, self.fc2 = nn.Linear(8 * 6 * 6, 16), nn.Linear(16, classes)

    def forward(self, x):
        x = nn.functional.relu(self.conv2(nn.functional.relu(self.conv1(x))))
        x = torch.flatten(self.dropout1(nn.functional.max_pool2d(x, 2)), 1)
        x = self.fc2(self.dropout2(nn.functional.relu(self.fc1(x))))
        return nn.functional.log_softmax(x, dim=1)


class NonSquare(nn.Module):
    """Inception-v3's factorised kernels on a non-square input: 3×5 with stride (1, 2), 1×5
    and 5×1 convolutions, a 2×3 max pool of stride (2, 1), a 3×2 average pool padded in
    height only, an adaptive pool to 5×2, flatten (C, H, W order)."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, (3, 5), stride=(1, 2), padding=(1, 2)), nn.ReLU(),
            nn.Conv2d(6, 6, (1, 5), padding=(0, 2)), nn.ReLU(),
            nn.Conv2d(6, 8, (5, 1), padding=(2, 0)), nn.ReLU(),
            nn.MaxPool2d((2, 3), stride=(2, 1), padding=(0, 1)),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
            nn.AvgPool2d((3, 2), stride=(1, 2), padding=(1, 0)), nn.AdaptiveAvgPool2d((5, 2)))
        self.fc = nn.Linear(8 * 5 * 2, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class Squeezes(nn.Module):
    """A pooled map flattened by ``x.squeeze(-1).squeeze(-1)`` (one axis per Squeeze), then a
    Linear without bias (TorchScript's MatMul) and functional ReLU."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3),
                                  nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Linear(8, 8, bias=False), nn.Linear(8, classes)

    def forward(self, x):
        x = self.pool(self.conv(x)).squeeze(-1).squeeze(-1)
        return self.fc2(nn.functional.relu(self.fc1(x)))


class MaxHead(nn.Module):
    """Adaptive max pooling to 2×2 and to 1×1 (dynamo: ReduceMax), an adaptive average pool
    that keeps its 2×2 input, ``nn.Identity``, ReLU6, the two pooled heads concatenated."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Identity(),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU6())
        self.amax, self.same = nn.AdaptiveMaxPool2d((2, 2)), nn.AdaptiveAvgPool2d((2, 2))
        self.gmax = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Sequential(nn.Dropout(0.3), nn.Linear(8 * 4 + 8, classes))

    def forward(self, x):
        x = self.features(x)
        a = torch.flatten(self.same(self.amax(x)), 1)
        return self.fc(torch.cat([a, torch.flatten(self.gmax(x), 1)], 1))


class PreActBlock(nn.Module):
    """A pre-activation ResNet block: BN → ReLU → conv, the BatchNorm before the ReLU (no
    linear layer before it to fold into), the skip from the block's input or its 1×1
    projection of the activated input."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.norm1, self.relu = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(cout)  # folded into conv1
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) \
            if stride != 1 or cin != cout else None
        self.merge = Merge()

    def forward(self, x):
        out = self.relu(self.norm1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        return self.merge(self.conv2(self.relu(self.norm2(self.conv1(out)))), skip)


class PreActResNet(nn.Module):
    """Pre-activation ResNet (pytorch-cifar's layout): a BatchNorm after the last Add; pooled
    by the module (the original's ``F.avg_pool2d`` gets zennit's gradient, README)."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.layer1, self.layer2 = PreActBlock(8, 8, 1), PreActBlock(8, 12, 2)
        self.bn, self.relu, self.pool = nn.BatchNorm2d(12), nn.ReLU(), nn.AvgPool2d(4)
        self.linear = nn.Linear(12, classes)

    def forward(self, x):
        out = self.pool(self.relu(self.bn(self.layer2(self.layer1(self.conv1(x))))))
        return self.linear(out.view(out.size(0), -1))


class Bottleneck(nn.Module):
    """torchvision's ResNeXt bottleneck: 1×1, grouped 3×3 (stride here), 1×1, BatchNorms
    folded, a strided 1×1 downsample."""

    def __init__(self, cin, width, cout, stride, groups):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, width, 1)
        self.conv2, self.bn2 = conv_bn(width, width, 3, stride, 1, groups=groups)
        self.conv3, self.bn3 = conv_bn(width, cout, 1)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = nn.Sequential(*conv_bn(cin, cout, 1, stride)) \
            if stride != 1 or cin != cout else None
        self.merge = Merge()

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn3(self.conv3(self.relu(self.bn2(self.conv2(y)))))
        skip = x if self.downsample is None else self.downsample(x)
        return self.relu(self.merge(y, skip))


class ResNeXt(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, 8, 3, 2, 1), nn.ReLU())
        self.layer = nn.Sequential(Bottleneck(8, 8, 16, 1, 4), Bottleneck(16, 8, 16, 1, 4),
                                   Bottleneck(16, 16, 24, 2, 8))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(24, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.layer(self.stem(x))), 1))


class InNorm(nn.Module):
    """Arithmetic in ``forward``, where zennit takes the gradient: the input normalised
    inside the model, ``(x − mean) / std`` (Sub and Div), a residual branch scaled by 0.3
    (Inception-ResNet; a Mul after the convolution), pooled features times 2 (a Mul on a
    flat tensor)."""

    def __init__(self, classes=4):
        super().__init__()
        self.register_buffer("mean", torch.tensor(INNORM_MEAN).reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(INNORM_STD).reshape(1, 3, 1, 1))
        self.conv1, self.conv2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
        self.relu, self.merge, self.pool = nn.ReLU(), Merge(), nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = self.relu(self.conv1((x - self.mean) / self.std))
        x = self.relu(self.merge(x, self.conv2(x) * 0.3))
        return self.fc(torch.flatten(self.pool(x), 1) * 2.0)


INNORM_MEAN, INNORM_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class FlatMLP(nn.Module):
    """An MNIST-style MLP on an image input: ``nn.Flatten`` first (flat and zB on the first
    Linear), a Linear without bias, LeakyReLU."""

    def __init__(self, classes=4):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(8 * 6, 16, bias=False),
                                 nn.LeakyReLU(0.05), nn.Linear(16, 12), nn.ReLU(),
                                 nn.Linear(12, classes))

    def forward(self, x):
        return self.net(x)


class Transform(nn.Module):
    """GoogLeNet's and Inception-v3's ``transform_input`` (on by default with their ImageNet
    weights): ImageNet-normalised input turned channel by channel into ``(x − 0.5) / 0.5``
    (``x[:, c]`` is a Gather, then Unsqueeze, Mul, Add; the three concatenated); zennit takes
    the gradient of that arithmetic."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.relu, self.pool, self.fc = nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Linear(8, classes)

    def forward(self, x):
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        x = torch.cat([torch.unsqueeze(x[:, c], 1) * (std[c] / 0.5) + (mean[c] - 0.5) / 0.5
                       for c in range(3)], 1)
        return self.fc(torch.flatten(self.pool(self.relu(self.conv(x))), 1))


class Clamps(nn.Module):
    """Functional clamps: ``x.clamp(min=0)`` (dynamo: Max), ``F.relu6``; Dropout2d and
    functional adaptive max pooling. zennit takes their gradient, which equals passing
    relevance only because no BatchNorm or activation follows a clamp (README)."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3)
        self.drop, self.fc = nn.Dropout2d(0.2), nn.Linear(8, classes)

    def forward(self, x):
        x = self.conv2(self.drop(self.conv1(x)).clamp(min=0))
        x = nn.functional.adaptive_max_pool2d(nn.functional.relu6(x), 1)
        return self.fc(x.flatten(1))

class SoftplusBeta(nn.Module):
    """``nn.Softplus(beta)`` with beta ≠ 1: the exporters write Mul, Softplus, Div (dynamo adds
    its threshold as Greater and Where on the Mul's output), one activation zennit passes."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Softplus(beta=2.0),
                                      nn.Conv2d(8, 8, 3), nn.Softplus(beta=3.0),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        return self.fc(self.features(x))


class Cropped(nn.Module):
    """A map cut by slicing (``x[:, :, 1:, :-2]``: a Slice of height and width, as Keras's
    Cropping2D exports too) on a non-square input."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
        self.relu, self.pool, self.fc = nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Linear(8, classes)

    def forward(self, x):
        x = self.relu(self.conv2(self.relu(self.conv1(x))[:, :, 1:, :-2]))
        return self.fc(torch.flatten(self.pool(x), 1))


class SoftmaxOut(nn.Module):
    """A classifier ending in ``nn.Softmax(dim=1)``: zennit has no rule for it and takes its
    gradient; ``Y`` holds the probabilities and the predicted class's probability is explained
    (the reference convention: output times its one-hot)."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8, classes)
        self.softmax = nn.Softmax(dim=1)

    def logits(self, x):
        return self.fc(self.features(x))

    def forward(self, x):
        return self.softmax(self.logits(x))


class PoolBranch(nn.Module):
    """Inception-v3's block in small: a branch pooled by ``F.avg_pool2d(x, 3, 1, 1)`` (zero
    padding counted) inside a module that holds convolutions, functional ReLUs."""

    def __init__(self, cin):
        super().__init__()
        self.branch1x1, self.branch_pool = nn.Conv2d(cin, 4, 1), nn.Conv2d(cin, 4, 1)

    def forward(self, x):
        pooled = nn.functional.avg_pool2d(x, kernel_size=3, stride=1, padding=1)
        return torch.cat([nn.functional.relu(self.branch1x1(x)),
                          nn.functional.relu(self.branch_pool(pooled))], 1)


class Functional(nn.Module):
    """Pooling and activations called in ``forward``, where zennit hooks no module and takes
    the gradient: torchvision DenseNet's tail (a BatchNorm after a Concat, ``F.relu``,
    ``F.adaptive_avg_pool2d`` in the model's own forward, as its MobileNetV2 pools too) and
    Inception-v3's padded ``F.avg_pool2d`` branch inside a block."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1)
        self.block = PoolBranch(8)
        self.norm5 = nn.BatchNorm2d(8)
        self.classifier = nn.Linear(8, classes)

    def forward(self, x):
        features = self.norm5(self.block(nn.functional.relu(self.conv0(x))))
        out = nn.functional.adaptive_avg_pool2d(nn.functional.relu(features), (1, 1))
        return self.classifier(torch.flatten(out, 1))


class MeanSigmoid(nn.Module):
    """ShuffleNetV2's and MNASNet's ``x.mean([2, 3])`` (ReduceMean) and a multi-label head
    ending in ``torch.sigmoid`` (both functional: zennit's gradient there); an ``nn.SiLU``
    module (passed) beside ``x * torch.sigmoid(x)`` (its gradient)."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv1, self.act = nn.Conv2d(3, 8, 3, padding=1), nn.SiLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, classes)

    def logits(self, x):
        x = self.conv2(self.act(self.conv1(x)))
        return self.fc((x * torch.sigmoid(x)).mean([2, 3]))

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


class MobileTail(nn.Module):
    """torchvision MobileNetV2's head: ReLU6 modules (passed), then
    ``nn.functional.adaptive_avg_pool2d(x, (1, 1))`` in the model's forward (the gradient);
    its TorchScript export names the pool ``/GlobalAveragePool``."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6(),
                                      nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU6(),
                                      nn.Conv2d(8, 12, 1), nn.ReLU6())
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(12, classes))

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class HardswishBlock(nn.Module):
    """A convolution and its BatchNorm (folded), then ``F.hardswish`` in the block's forward."""

    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(c, c, 3, 1, 1)

    def forward(self, x):
        return nn.functional.hardswish(self.bn1(self.conv1(x)))


class FuncActs(nn.Module):
    """Every activation kind called in ``forward`` (zennit: its gradient), each followed by a
    BatchNorm that zennit passes (so that the gradient's zeros and slopes reach a convolution):
    ``F.gelu``, ``F.leaky_relu``, ``F.elu``, ``F.silu``, ``F.hardswish`` in a block,
    ``F.softplus``, ``F.hardsigmoid``, ``F.relu6``, ``F.selu``, ``torch.tanh``."""

    def __init__(self, classes=4):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(3, 8, 3, padding=1)] +
                                   [nn.Conv2d(8, 8, 1) for _ in range(8)])
        self.norms = nn.ModuleList([nn.BatchNorm2d(8) for _ in range(8)])
        self.block = HardswishBlock(8)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        f = nn.functional
        acts = [f.gelu, lambda t: f.leaky_relu(t, 0.1), f.elu, f.silu, f.softplus,
                f.hardsigmoid, f.relu6, f.selu]
        for k, act in enumerate(acts):
            x = self.norms[k](act(self.convs[k](x)))
            if k == 3:
                x = self.block(x)
        return self.fc(torch.tanh(self.convs[8](x)).mean([2, 3]))


class PadModes(nn.Module):
    """Padding by copies of the input: ``padding_mode="reflect"`` and ``"replicate"``
    convolutions (the first: flat and zB count the copied border), ``nn.ReflectionPad2d`` with
    unequal pads before a convolution, ``nn.ReplicationPad2d`` before the pool, on a
    non-square input. zennit sends the border's relevance back through the padding's
    gradient."""

    def __init__(self, classes=4):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding=1, padding_mode="reflect")
        self.c2 = nn.Conv2d(6, 6, (3, 5), padding=(1, 2), padding_mode="replicate")
        self.pad, self.c3 = nn.ReflectionPad2d((1, 2, 0, 1)), nn.Conv2d(6, 6, 3)
        self.rep, self.pool = nn.ReplicationPad2d(1), nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, classes)

    def forward(self, x):
        x = nn.functional.relu(self.c2(nn.functional.relu(self.c1(x))))
        x = nn.functional.relu(self.c3(self.pad(x)))
        return self.fc(torch.flatten(self.pool(self.rep(x)), 1))


class Circular(nn.Module):
    """A ``padding_mode="circular"`` convolution first: dynamo writes a Pad of mode wrap (read);
    TorchScript slices and concatenates along height and width (refused)."""

    def __init__(self, classes=4):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, padding=1, padding_mode="circular")
        self.c2 = nn.Conv2d(6, 6, 3, padding=1)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(6, classes)

    def forward(self, x):
        x = nn.functional.relu(self.c2(nn.functional.relu(self.c1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


class GlobalPool(nn.Module):
    """A custom pooling module: ``F.adaptive_avg_pool2d`` and a flatten in its own forward, no
    pooling module for zennit to hook (its gradient)."""

    def forward(self, x):
        return nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)


class CustomPool(nn.Module):
    """A custom pooling module (``GlobalPool``) used as a submodule: TorchScript names its
    pool ``/gap/GlobalAveragePool`` beside ``/gap/Flatten``."""

    def __init__(self, classes=4):
        super().__init__()
        self.c1, self.act = nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()
        self.c2, self.gap = nn.Conv2d(8, 8, 3, padding=1), GlobalPool()
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        return self.fc(self.gap(nn.functional.relu(self.c2(self.act(self.c1(x))))))


class Swish(nn.Module):
    """A custom activation module: zennit hooks no module of its own type and takes the
    gradient of ``x * torch.sigmoid(x)``, while ``nn.SiLU`` (the same operators) is passed."""

    def forward(self, x):
        return x * torch.sigmoid(x)


class ReluNormBlock(nn.Module):
    """conv → ``F.relu`` → BatchNorm → conv, added to its input: the functional ReLU drops the
    relevance the BatchNorm's Pass brings to the units it silenced."""

    def __init__(self, c):
        super().__init__()
        self.c1, self.norm, self.c2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), \
            nn.Conv2d(c, c, 3, padding=1)
        self.merge = Merge()

    def forward(self, x):
        return self.merge(x, self.c2(self.norm(nn.functional.relu(self.c1(x)))))


class ModFuncs(nn.Module):
    """Exported with ``export_modules_as_functions=True`` (each module a local function named
    by its class): a custom ``Swish`` module and ``nn.SiLU``, each before a BatchNorm, a
    residual block calling ``F.relu``, pooling by a module."""

    def __init__(self, classes=4):
        super().__init__()
        self.c1, self.swish, self.norm_a = nn.Conv2d(3, 8, 3, padding=1), Swish(), \
            nn.BatchNorm2d(8)
        self.c2, self.silu, self.norm_b = nn.Conv2d(8, 8, 3, padding=1), nn.SiLU(), \
            nn.BatchNorm2d(8)
        self.block = ReluNormBlock(8)
        self.act, self.pool, self.fc = nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Linear(8, classes)

    def forward(self, x):
        x = self.norm_b(self.silu(self.c2(self.norm_a(self.swish(self.c1(x))))))
        return self.fc(torch.flatten(self.pool(self.act(self.block(x))), 1))


class ZennitSum(nn.Module):
    """Additions written with zennit's own ``Sum`` layer, ``self.sum(torch.stack([...],
    dim=-1))``, as its canonizers rewrite torchvision's blocks, exported as they are
    (Unsqueeze, Concat, ReduceSum): a three-way sum and a residual one."""

    def __init__(self, classes=4):
        super().__init__()
        self.c1, self.act = nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()
        self.a, self.b = nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 1)
        self.sum3, self.c, self.sum2 = Sum(), nn.Conv2d(8, 8, 3, padding=1), Sum()
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(8, classes)

    def forward(self, x):
        x = self.act(self.c1(x))
        x = self.act(self.sum3(torch.stack([x, self.a(x), self.b(x)], dim=-1)))
        x = self.act(self.sum2(torch.stack([x, self.c(x)], dim=-1)))
        return self.fc(torch.flatten(self.pool(x), 1))


class SubReLU(nn.ReLU):
    """A subclass of a zennit activation: zennit's isinstance gives it Pass."""


class SubAvgPool(nn.AvgPool2d):
    """A subclass of a zennit pooling module: zennit gives it Norm."""


class Subclassed(nn.Module):
    """Activation and pooling modules subclassing PyTorch's, each before a layer that makes
    Pass or Norm differ from the gradient (a BatchNorm, a convolution after a padded pool),
    beside ``F.relu`` in ``forward`` (zennit's gradient)."""

    def __init__(self, classes=4):
        super().__init__()
        self.c1, self.act, self.norm = nn.Conv2d(3, 8, 3, padding=1), SubReLU(), \
            nn.BatchNorm2d(8)
        self.pool1 = SubAvgPool(3, 1, 1)
        self.c2, self.norm2 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(8, classes)

    def forward(self, x):
        x = self.pool1(self.norm(self.act(self.c1(x))))
        x = self.norm2(nn.functional.relu(self.c2(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class SqueezeExcite(nn.Module):
    """torchvision's SqueezeExcitation: pooled, two 1×1 convolutions, a gate activation, and
    ``scale * x`` in ``forward`` (a product of two signals: zennit's gradient there)."""

    def __init__(self, c, squeeze, act, gate):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.act = nn.Conv2d(c, squeeze, 1), act()
        self.fc2, self.gate = nn.Conv2d(squeeze, c, 1), gate()

    def forward(self, x):
        scale = self.gate(self.fc2(self.act(self.fc1(self.avgpool(x)))))
        return scale * x


class SEBlock(nn.Module):
    """An inverted residual block with a squeeze-and-excitation gate on its depthwise output,
    as in MobileNetV3 (ReLU, Hardsigmoid, Hardswish) or EfficientNet (SiLU, Sigmoid)."""

    def __init__(self, c, act, gate, residual):
        super().__init__()
        self.expand = nn.Sequential(*conv_bn(c, 2 * c, 1), act())
        self.dw = nn.Sequential(*conv_bn(2 * c, 2 * c, 3, 1, 1, groups=2 * c), act())
        self.se = SqueezeExcite(2 * c, max(2, c // 2), nn.ReLU if gate is nn.Hardsigmoid
                                else nn.SiLU, gate)
        self.project = nn.Sequential(*conv_bn(2 * c, c, 1))
        self.merge = Merge() if residual else None

    def forward(self, x):
        y = self.project(self.se(self.dw(self.expand(x))))
        return self.merge(x, y) if self.merge is not None else y


class SEGate(nn.Module):
    """Squeeze-and-excitation gates (``Gate``): a MobileNetV3 block (gate first in the Mul as
    torchvision writes ``scale * input``) with its residual, and an EfficientNet block."""

    def __init__(self, classes=4):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, 8, 3, 2, 1), nn.Hardswish())
        self.block1 = SEBlock(8, nn.Hardswish, nn.Hardsigmoid, residual=True)
        self.block2 = SEBlock(8, nn.SiLU, nn.Sigmoid, residual=False)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(8, classes)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class SEGateOneByOne(nn.Module):
    """Squeeze-and-excitation gates on a 1×1 map, as EfficientNetV2-S and MobileNetV3 have in
    their last stages on a small input (32×32): the map and its gate have one shape, N×C×1×1.
    An EfficientNet gate after a stride-2 depthwise convolution that leaves 1×1, then a
    MobileNetV3 block with its residual."""

    def __init__(self, classes=4):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, 8, 3, 2, 1), nn.SiLU())
        self.dw = nn.Sequential(*conv_bn(8, 8, 3, 2, 1, groups=8), nn.SiLU())
        self.se = SqueezeExcite(8, 4, nn.SiLU, nn.Sigmoid)
        self.project = nn.Sequential(*conv_bn(8, 8, 1))
        self.block = SEBlock(8, nn.Hardswish, nn.Hardsigmoid, residual=True)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(8, classes)

    def forward(self, x):
        x = self.block(self.project(self.se(self.dw(self.stem(x)))))
        return self.fc(torch.flatten(self.pool(x), 1))


class Decoder(nn.Module):
    """A U-Net's decoder path: transposed convolutions (k=2 s=2; k=4 s=2 p=1 after a skip
    concatenated; grouped k=3 s=2 p=1 with output_padding) and nearest upsampling (a module
    ×2, ``F.interpolate`` to a size 1.5× the input: ONNX Resize with sizes)."""

    def __init__(self, classes=4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.down = nn.Sequential(nn.Conv2d(8, 12, 3, stride=2, padding=1), nn.ReLU())
        self.up1 = nn.Sequential(nn.ConvTranspose2d(12, 8, 2, stride=2), nn.ReLU())
        self.up2 = nn.Sequential(nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.ReLU(),
                                 nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())
        self.up3 = nn.Sequential(nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1,
                                                    output_padding=1, groups=2), nn.ReLU(),
                                 nn.MaxPool2d(2), nn.Upsample(scale_factor=2),
                                 nn.Conv2d(8, 8, 3, stride=3), nn.ReLU())
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(8, classes)

    def forward(self, x):
        skip = self.stem(x)
        x = self.up1(self.down(skip))
        x = self.up3(self.up2(torch.cat([x, skip], 1)))
        x = nn.functional.interpolate(x, size=(6, 6), mode="nearest")
        return self.fc(torch.flatten(self.pool(x), 1))


class TransposedFirst(nn.Module):
    """A transposed convolution as the first layer: zB's bounds and flat's ones only where
    input pixels land, not on the zeros between them."""

    def __init__(self, classes=4):
        super().__init__()
        self.features = nn.Sequential(nn.ConvTranspose2d(3, 6, 3, stride=2, padding=1),
                                      nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2), nn.ReLU())
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(8, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class ConvNeXtBlock(nn.Module):
    """torchvision's CNBlock (depthwise 7×7, permute, LayerNorm, Linear ×4, GELU, Linear,
    permute, layer scale) with its residual through ``Merge``."""

    def __init__(self, dim):
        from torchvision.ops.misc import Permute

        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim), Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim), nn.GELU(),
            nn.Linear(4 * dim, dim), Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(0.5 + torch.rand(dim, 1, 1))
        self.merge = Merge()

    def forward(self, x):
        return self.merge(self.layer_scale * self.block(x), x)


class ConvNeXt(nn.Module):
    """A small ConvNeXt as torchvision builds one: a 4×4 stride-4 stem and LayerNorm2d, blocks,
    a LayerNorm2d and 2×2 stride-2 downsampling, and the head (average pool, LayerNorm2d,
    Flatten, Linear). LayerNorm has no zennit rule: relevance passes as its gradient."""

    def __init__(self, classes=4):
        from torchvision.models.convnext import LayerNorm2d

        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 4, stride=4), LayerNorm2d(8, eps=1e-6), ConvNeXtBlock(8),
            LayerNorm2d(8, eps=1e-6), nn.Conv2d(8, 12, 2, stride=2), ConvNeXtBlock(12))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(LayerNorm2d(12, eps=1e-6), nn.Flatten(1), nn.Linear(12, classes))

    def forward(self, x):
        return self.head(self.pool(self.features(x)))


class Interpolations(nn.Module):
    """A feature-pyramid path as segmentation and detection networks build it: a coarse map
    enlarged bilinearly (``F.interpolate(scale_factor=2, mode="bilinear")``) and added to the
    fine one, then bicubic enlarging (``scale_factor=1.5``), ``nn.Upsample(size,
    mode="bilinear", align_corners=True)`` shrinking it, and a bilinear shrink through
    an antialiasing filter (``antialias=True``, ``interpaa`` only: the TorchScript exporter
    cannot write it): ONNX Resize of modes linear and cubic."""

    antialias = False

    def __init__(self, classes=4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.down = nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())
        self.merge = Merge()
        self.head = nn.Sequential(nn.Conv2d(8, 6, 3, padding=1), nn.ReLU())
        self.shrink = nn.Upsample(size=(10, 10), mode="bilinear", align_corners=True)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(6, classes)

    def forward(self, x):
        fine = self.stem(x)                                                     # 8×12×12
        coarse = nn.functional.interpolate(self.down(fine), scale_factor=2, mode="bilinear")
        x = self.head(self.merge(fine, coarse))                                 # 6×12×12
        x = nn.functional.interpolate(x, scale_factor=1.5, mode="bicubic")     # 6×18×18
        x = self.shrink(x)                                                      # 6×10×10
        if self.antialias:
            x = nn.functional.interpolate(x, size=(7, 7), mode="bilinear", antialias=True)
        return self.fc(torch.flatten(self.pool(x), 1))


class InterpolationsAntialiased(Interpolations):
    antialias = True


class GroupNormNet(nn.Module):
    """Group and instance normalisation where batch statistics are no option (small batches,
    detection heads, ResNet-GN): ``nn.GroupNorm`` with 4 groups and with one (a LayerNorm
    over C×H×W) in a residual block, ``nn.InstanceNorm2d`` with and without its affine
    parameters. zennit has no rule for them and takes their gradient."""

    def __init__(self, classes=4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(4, 8), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.GroupNorm(1, 8),
                                  nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
        self.merge = Merge()
        self.tail = nn.Sequential(nn.ReLU(), nn.InstanceNorm2d(8, affine=True),
                                  nn.Conv2d(8, 6, 3, stride=2), nn.InstanceNorm2d(6),
                                  nn.ReLU())
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(6, classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.tail(self.merge(x, self.body(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class TinyFCN(nn.Module):
    """A segmentation network in torchvision's FCN layout: conv/BN/ReLU stem, a stride-2
    stage, an ``FCNHead`` (3×3 conv, BN, ReLU, Dropout, 1×1 classifier to K=4 channels) and
    ``F.interpolate(size=input size, mode="bilinear")`` back to the input's size: the output
    is an N×K×H×W map (``SEGMENT``: references start at the output times a pixel mask)."""

    def __init__(self, classes=4):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, 8, 3, 1, 1), nn.ReLU())
        self.down = nn.Sequential(*conv_bn(8, 16, 3, 2, 1), nn.ReLU())
        self.head = nn.Sequential(*conv_bn(16, 8, 3, 1, 1), nn.ReLU(), nn.Dropout(0.1),
                                  nn.Conv2d(8, classes, 1))

    def forward(self, x):
        size = x.shape[-2:]
        y = self.head(self.down(self.stem(x)))
        return nn.functional.interpolate(y, size=size, mode="bilinear", align_corners=False)


class TinyLRASPP(nn.Module):
    """torchvision's LR-ASPP in small: a MobileNetV3-like backbone (Hardswish stem, a block
    with its squeeze-and-excitation gate and residual) whose stride-2 map is the ``low``
    branch and a stride-4 stage the ``high`` one; ``LRASPPHead`` as torchvision writes it
    (``cbr(high) * scale(high)``, the gate a global pool, a 1×1 convolution and a Sigmoid,
    second in the Mul; bilinear ``F.interpolate`` to the low map's size; the two classifiers'
    outputs added) and bilinear back to the input's size: an N×K×H×W map (``SEGMENT``)."""

    def __init__(self, classes=4):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, 8, 3, 2, 1), nn.Hardswish())
        self.block = SEBlock(8, nn.Hardswish, nn.Hardsigmoid, residual=True)
        self.high = nn.Sequential(*conv_bn(8, 16, 3, 2, 1), nn.Hardswish())
        self.cbr = nn.Sequential(nn.Conv2d(16, 12, 1, bias=False), nn.BatchNorm2d(12),
                                 nn.ReLU())
        self.scale = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 12, 1, bias=False),
                                   nn.Sigmoid())
        self.merge = Merge()  # the head's addition, zennit's Sum as for the residuals
        self.low_classifier = nn.Conv2d(8, classes, 1)
        self.high_classifier = nn.Conv2d(12, classes, 1)  # last: ``calibrate`` centres it

    def forward(self, x):
        size = x.shape[-2:]
        low = self.block(self.stem(x))                                          # 8×8×8
        high = self.high(low)                                                   # 16×4×4
        y = self.cbr(high) * self.scale(high)
        y = nn.functional.interpolate(y, size=low.shape[-2:], mode="bilinear",
                                      align_corners=False)
        y = self.merge(self.low_classifier(low), self.high_classifier(y))
        return nn.functional.interpolate(y, size=size, mode="bilinear", align_corners=False)


class SegmentSoftmax(TinyFCN):
    """``segment``'s FCN ending in ``nn.Softmax(dim=1)`` over the classes of each pixel (as
    Keras segmentation models end in ``activation="softmax"``): zennit has no rule for it and
    takes its gradient; ``Y`` holds the probabilities, the mask selects the class's pixels."""

    def __init__(self, classes=4):
        super().__init__(classes)
        self.softmax = nn.Softmax(dim=1)

    def logits(self, x):
        return super().forward(x)

    def forward(self, x):
        return self.softmax(self.logits(x))


class AttentionGate(nn.Module):
    """Attention U-Net's gate (Oktay et al. 2018, as the common PyTorch implementations write
    it): α = sigmoid(ψ(relu(W_g g + W_x x))), one channel, each a 1×1 convolution with its
    BatchNorm (the addition through ``Merge``); the skip map ``x`` times α, broadcast over
    its channels (``gate_first``: written α · x)."""

    def __init__(self, f_g, f_x, f_int, gate_first=False):
        super().__init__()
        self.w_g = nn.Sequential(*conv_bn(f_g, f_int, 1))
        self.w_x = nn.Sequential(*conv_bn(f_x, f_int, 1))
        self.merge = Merge()
        self.relu = nn.ReLU()
        self.psi = nn.Sequential(*conv_bn(f_int, 1, 1), nn.Sigmoid())
        self.gate_first = gate_first

    def forward(self, g, x):
        alpha = self.psi(self.relu(self.merge(self.w_g(g), self.w_x(x))))
        return alpha * x if self.gate_first else x * alpha


class AttentionUNet(nn.Module):
    """An Attention U-Net in small: two encoder stages under max pools, decoder stages of a
    nearest ``nn.Upsample`` and a conv/BN/ReLU (the gating signal g), an ``AttentionGate`` on
    each skip map, the gated skip concatenated with g, and a 1×1 classifier to K=4 channels:
    an N×K×H×W map (``SEGMENT``)."""

    def __init__(self, classes=4):
        super().__init__()
        self.enc1 = nn.Sequential(*conv_bn(3, 8, 3, 1, 1), nn.ReLU())              # 8×16×16
        self.enc2 = nn.Sequential(nn.MaxPool2d(2), *conv_bn(8, 12, 3, 1, 1), nn.ReLU())
        self.bottom = nn.Sequential(nn.MaxPool2d(2), *conv_bn(12, 16, 3, 1, 1), nn.ReLU())
        self.up2 = nn.Sequential(nn.Upsample(scale_factor=2), *conv_bn(16, 12, 3, 1, 1),
                                 nn.ReLU())                                         # 12×8×8
        self.att2 = AttentionGate(12, 12, 6)
        self.dec2 = nn.Sequential(*conv_bn(24, 12, 3, 1, 1), nn.ReLU())
        self.up1 = nn.Sequential(nn.Upsample(scale_factor=2), *conv_bn(12, 8, 3, 1, 1),
                                 nn.ReLU())                                         # 8×16×16
        self.att1 = AttentionGate(8, 8, 4, gate_first=True)
        self.dec1 = nn.Sequential(*conv_bn(16, 8, 3, 1, 1), nn.ReLU())
        self.classifier = nn.Conv2d(8, classes, 1)  # last: ``calibrate`` centres it

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        g2 = self.up2(self.bottom(e2))
        d2 = self.dec2(torch.cat([self.att2(g2, e2), g2], dim=1))
        g1 = self.up1(d2)
        d1 = self.dec1(torch.cat([self.att1(g1, e1), g1], dim=1))
        return self.classifier(d1)


class GridAttention(nn.Module):
    """Oktay et al.'s own attention gate (``GridAttentionBlock2D``, concatenation mode): θ a
    stride-2 2×2 convolution of the skip map x, φ(g) resized bilinearly to θ(x)'s grid, ψ and
    the sigmoid there, α resized bilinearly to x's size and ``α.expand_as(x) * x`` (ONNX: an
    Expand before the Mul), then W: a 1×1 convolution with its BatchNorm."""

    def __init__(self, f_x, f_g, f_int):
        super().__init__()
        self.theta = nn.Conv2d(f_x, f_int, 2, 2, bias=False)
        self.phi = nn.Conv2d(f_g, f_int, 1)
        self.psi = nn.Conv2d(f_int, 1, 1)
        self.merge, self.relu, self.sigmoid = Merge(), nn.ReLU(), nn.Sigmoid()
        self.w = nn.Sequential(*conv_bn(f_x, f_x, 1))

    def forward(self, x, g):
        theta = self.theta(x)
        phi = nn.functional.interpolate(self.phi(g), size=theta.shape[-2:], mode="bilinear",
                                        align_corners=False)
        alpha = self.sigmoid(self.psi(self.relu(self.merge(theta, phi))))
        alpha = nn.functional.interpolate(alpha, size=x.shape[-2:], mode="bilinear",
                                          align_corners=False)
        return self.w(alpha.expand_as(x) * x)


class GridAttentionUNet(nn.Module):
    """A U-Net in small with Oktay et al.'s ``GridAttention`` on its first skip map, gated by
    the coarsest stage (4×4 under a 16×16 map): an N×K×H×W map (``SEGMENT``)."""

    def __init__(self, classes=4):
        super().__init__()
        self.enc1 = nn.Sequential(*conv_bn(3, 8, 3, 1, 1), nn.ReLU())              # 8×16×16
        self.enc2 = nn.Sequential(nn.MaxPool2d(2), *conv_bn(8, 12, 3, 1, 1), nn.ReLU())
        self.enc3 = nn.Sequential(nn.MaxPool2d(2), *conv_bn(12, 16, 3, 1, 1), nn.ReLU())
        self.att = GridAttention(8, 16, 6)
        self.up = nn.Upsample(scale_factor=2)
        self.dec2 = nn.Sequential(*conv_bn(28, 12, 3, 1, 1), nn.ReLU())            # 12×8×8
        self.dec1 = nn.Sequential(*conv_bn(20, 12, 3, 1, 1), nn.ReLU())            # 12×16×16
        self.classifier = nn.Conv2d(12, classes, 1)  # last: ``calibrate`` centres it

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([self.up(e3), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up(d2), self.att(e1, e3)], dim=1))
        return self.classifier(d1)


MODELS = {  # name: (builder, input C×H×W, per-channel mean, std)
    "resnet": (ResNet, (3, 16, 16), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "densenet": (DenseNet, (1, 12, 12), (0.0,), (1.0,)),
    "mobilenetv2": (MobileNetV2, (3, 16, 16), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "vgg": (VGG, (1, 16, 16), (0.0,), (1.0,)),
    "grouped": (Grouped, (3, 10, 10), (0.2, 0.3, 0.4), (0.5, 0.6, 0.7)),
    "squeezenet": (SqueezeNet, (3, 21, 21), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "mlp": (MLP, (20,), (0.0,), (1.0,)),
    "activations": (Activations, (3, 12, 12), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "avgpools": (AvgPools, (3, 11, 11), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "groupfirst": (GroupFirst, (3, 6, 6), (0.4, 0.5, 0.6), (0.2, 0.3, 0.25)),
    "dilated": (Dilated, (3, 12, 12), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "smooth": (Smooth, (3, 10, 10), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "inception": (Inception, (3, 8, 8), (0.4, 0.4, 0.4), (0.3, 0.3, 0.3)),
    "sequence": (Sequence, (4, 32), (0.5,), (0.25,)),  # C×L; one mean and std
    "shufflenet": (ShuffleNet, (3, 8, 8), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "logsoftmax": (LogSoftmaxNet, (1, 12, 12), (0.1307,), (0.3081,)),
    "nonsquare": (NonSquare, (3, 10, 16), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "squeeze": (Squeezes, (3, 7, 9), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "maxhead": (MaxHead, (3, 6, 6), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "preact": (PreActResNet, (3, 8, 8), (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)),
    "resnext": (ResNeXt, (3, 12, 12), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "innorm": (InNorm, (3, 6, 6), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),  # normalises inside
    "flatmlp": (FlatMLP, (1, 8, 6), (0.1307,), (0.3081,)),
    "transform": (Transform, (3, 6, 6), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "clamps": (Clamps, (3, 6, 6), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "softbeta": (SoftplusBeta, (3, 6, 6), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "cropped": (Cropped, (3, 8, 7), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "softmax": (SoftmaxOut, (3, 8, 8), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "functional": (Functional, (3, 6, 6), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "meansigmoid": (MeanSigmoid, (3, 6, 6), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "mobiletail": (MobileTail, (3, 6, 6), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "funcacts": (FuncActs, (3, 6, 6), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "padmodes": (PadModes, (3, 7, 8), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "circular": (Circular, (3, 6, 6), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "custompool": (CustomPool, (3, 6, 6), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "modfuncs": (ModFuncs, (3, 6, 6), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "zsum": (ZennitSum, (3, 6, 6), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "subclass": (Subclassed, (3, 6, 6), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "segate": (SEGate, (3, 12, 12), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "decoder": (Decoder, (3, 6, 6), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "transfirst": (TransposedFirst, (3, 5, 5), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "convnext": (ConvNeXt, (3, 16, 16), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "interpolate": (Interpolations, (3, 12, 12), (0.485, 0.456, 0.406),
                    (0.229, 0.224, 0.225)),
    "interpaa": (InterpolationsAntialiased, (3, 12, 12), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "groupnorm": (GroupNormNet, (3, 9, 9), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "segate1x1": (SEGateOneByOne, (3, 4, 4), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "atrous": (Atrous, (3, 16, 16), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "segment": (TinyFCN, (3, 16, 16), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "lraspp": (TinyLRASPP, (3, 16, 16), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "segsoftmax": (SegmentSoftmax, (3, 16, 16), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "attunet": (AttentionUNet, (3, 16, 16), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "attgrid": (GridAttentionUNet, (3, 16, 16), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
# segmentation networks (an N×K×H×W output): two samples, each predicting three or more
# classes; ``R__<preset>`` starts at the output times the mask of the class predicted at the
# most pixels (its channel where it is the argmax; ``target`` holds it per sample), and
# ``Rsecond__<preset>`` of the class at the second most (``second``)
SEGMENT = {"segment", "lraspp", "segsoftmax", "attunet", "attgrid"}
# models the TorchScript exporter cannot write (``antialias=True``): NAME_dynamo.onnx only
DYNAMO_ONLY = {"interpaa"}
# TorchScript exports at other opsets, besides the default (17): NAME_opN.onnx
TS_OPSETS = {"activations": (13,), "nonsquare": (18,), "flatmlp": (20,),
             "sequence": (9,)}  # opset 9: a 1-D pool's Pad of zeros
# dynamo=True exports kept as torch writes them by default: NAME_extdata.onnx and its weights
# in NAME_extdata.onnx.data beside it
EXTERNAL_DATA = {"flatmlp"}
# TorchScript exports with export_modules_as_functions=True (opset 17), NAME_functions.onnx,
# instead of the plain one (whose custom Swish module reads as nn.SiLU: see the README)
FUNCTIONS = {"modfuncs"}
# TorchScript exports of model.double(), NAME_float64.onnx (CELU: Cast to float32 and back)
FLOAT64 = {"smooth"}
# dynamo=True exports without its optimiser (optimize=False, as a checker keeping BatchNorms for
# an exact fold writes them), NAME_noopt.onnx: PyTorch's asymmetric padding="same" as a Pad node
# before a padded Conv (grouped), a ReduceMean output named like the 'mean' buffer (innorm),
# x.chunk as SplitToSequence and SequenceAt, a clone (Identity) inside the shuffle (shufflenet),
# nn.Softplus and F.softplus as x · 1, Softplus, / 1 with a threshold on x · 1 (smooth, funcacts)
NOOPT = {"grouped", "innorm", "shufflenet", "smooth", "funcacts", "segate"}
# dynamo exports keeping their stack traces (paths trimmed), which tell a subclass of a PyTorch
# activation or pooling module (its forward written in torch/nn/modules) from a custom one
TRACES = {"subclass"}


def randomise(model, seed):
    """Seeded weights, and BatchNorm statistics far from the identity."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            if m.affine:  # without: only the statistics
                m.weight.data = 0.5 + torch.rand(n, generator=g)
                m.bias.data = 0.3 * torch.randn(n, generator=g)
            m.running_mean = 0.2 * torch.randn(n, generator=g)
            m.running_var = 0.5 + torch.rand(n, generator=g)
        elif isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)) \
                and m.weight is not None:  # LayerNorm2d too; InstanceNorm2d(affine=True)
            n = m.weight.shape
            m.weight.data = 0.5 + torch.rand(n, generator=g)
            m.bias.data = 0.3 * torch.randn(n, generator=g)
        elif isinstance(m, nn.PReLU):
            m.weight.data = 0.1 + 0.3 * torch.rand(m.weight.shape, generator=g)
        elif isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            m.weight.data = torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5
            if m.bias is not None:
                m.bias.data = 0.1 * torch.randn(m.bias.shape, generator=g)
    return model.eval()


def fold_conv_bn(model, dtype=torch.float32):
    """Fold each BatchNorm that directly follows a Conv2d or Linear (as attribute pairs
    convN/bnN, or neighbours in a Sequential) into it, computing in ``dtype``."""
    def fold(conv, bn):
        s = (bn.weight.to(dtype) / torch.sqrt(bn.running_var.to(dtype) + bn.eps))
        w = conv.weight.to(dtype) * s.reshape((-1,) + (1,) * (conv.weight.dim() - 1))
        b = conv.bias.to(dtype) if conv.bias is not None else torch.zeros_like(s)
        b = (b - bn.running_mean.to(dtype)) * s + bn.bias.to(dtype)
        conv.weight = nn.Parameter(w.to(conv.weight.dtype))
        conv.bias = nn.Parameter(b.to(conv.weight.dtype))

    for m in list(model.modules()):
        if isinstance(m, nn.Sequential):
            items = list(m)
            for i in range(len(items) - 1):
                if isinstance(items[i], (nn.Conv1d, nn.Conv2d, nn.Linear)) and \
                        isinstance(items[i + 1], (nn.BatchNorm1d, nn.BatchNorm2d)):
                    fold(items[i], items[i + 1])
                    m[i + 1] = nn.Identity()
        for cname, bname in (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"),
                             ("conv1", "norm2")):
            conv, bn = getattr(m, cname, None), getattr(m, bname, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                fold(conv, bn)
                setattr(m, bname, nn.Identity())
    return model


def composites(low, high):
    return {
        "epsilon_0p01": LayerMapComposite(layer_map_base() + [
            (Convolution, Epsilon(0.01)), (torch.nn.Linear, Epsilon(0.01))]),
        "EpsilonPlus": EpsilonPlus(),
        "EpsilonPlusFlat": EpsilonPlusFlat(),
        "EpsilonAlpha2Beta1": EpsilonAlpha2Beta1(),
        "EpsilonAlpha2Beta1Flat": EpsilonAlpha2Beta1Flat(),
        "EpsilonGammaBox": EpsilonGammaBox(low=low, high=high),
    }


def references(model, x, mean, std, first_conv_input=None):
    """zennit's outputs and relevance, float64, target the predicted class. zB's bounds have
    the shape of the first convolution's input: ``x``'s unless ``first_conv_input`` says."""
    model = model.double().eval()
    x = torch.as_tensor(x, dtype=torch.float64)
    mean_t = per_channel(mean, x.shape[1:]).double()
    std_t = per_channel(std, x.shape[1:]).double()
    shape = x.shape if first_conv_input is None else first_conv_input
    low = ((0 - mean_t) / std_t).expand(shape).contiguous()
    high = ((1 - mean_t) / std_t).expand(shape).contiguous()
    out = {}
    Merge.zennit = True
    try:
        with torch.no_grad():
            Y = model(x)
        out["Y"] = Y.numpy()
        onehot = torch.nn.functional.one_hot(Y.argmax(1), Y.shape[1]).to(Y)
        for name, comp in composites(low, high).items():
            with Gradient(model, comp) as attributor:
                y, R = attributor(x, lambda y: y * onehot)
            assert torch.allclose(y, Y, atol=1e-12)
            out["R__" + name] = R.detach().numpy()
    finally:
        Merge.zennit = False
    return out


def per_channel(values, shape):
    """Per-channel values broadcast over a batch of C×H×W images (C×L sequences, flat
    vectors)."""
    t = torch.tensor(values, dtype=torch.float32)
    return t.reshape((1, -1) + (1,) * (len(shape) - 1))


def calibrate(model, shape, mean, std, seed):
    """Centre the last Linear layer's outputs on noise images, so that noise inputs predict
    several classes (random weights otherwise favour one)."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand((256,) + tuple(shape), generator=g) - per_channel(mean, shape)) \
        / per_channel(std, shape)
    last = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    with torch.no_grad():  # the logits, before a final softmax (``logits``)
        y = getattr(model, "logits", model)(x)
        last.bias -= y.mean(0) if y.ndim == 2 else y.mean((0, 2, 3))  # a map: per channel
    return model


# models explained on binary images (pixels 0 or 1 in the middle, a black border a quarter of
# the side wide, as MNIST strokes on their background): many max-pool windows tie, and zennit
# (PyTorch's max_pool2d) sends a window's relevance to its first maximum in row-major order
BINARY_INPUTS = {"logsoftmax"}


def inputs(shape, mean, std, model, seed, n=4, binary=False):
    """n normalised uniform-noise images (``binary``: of 0/1 pixels) whose predictions differ
    (at least two classes)."""
    g = torch.Generator().manual_seed(seed)
    m, s = per_channel(mean, shape), per_channel(std, shape)
    for _ in range(200):
        pixels = torch.rand((64,) + tuple(shape), generator=g)
        if binary:
            border = torch.zeros_like(pixels)
            h, w = shape[-2:]
            border[..., h // 4:h - h // 4, w // 4:w - w // 4] = 1
            pixels = (pixels > 0.5).float() * border
        x = ((pixels - m) / s).double()
        with torch.no_grad():
            pred = model.double()(x).argmax(1)
        model.float()
        picked, seen = [], {}
        for i, p in enumerate(pred.tolist()):
            if seen.get(p, 0) < 2:
                picked.append(i)
                seen[p] = seen.get(p, 0) + 1
            if len(picked) == n:
                break
        if len(seen) >= 2 and len(picked) == n:
            return x[picked].numpy()
    raise RuntimeError("no inputs with two predicted classes")


def map_counts(y):
    """N×K: the pixels of each sample's N×K×H×W map predicted as each class."""
    pred = y.argmax(1).reshape(y.shape[0], -1)
    return torch.stack([(pred == k).sum(1) for k in range(y.shape[1])], 1)


def map_inputs(shape, mean, std, model, seed, n=2):
    """n normalised noise images whose maps each predict three or more classes, the class
    at the most pixels differing between samples (so targets differ), without ties in the
    pixel counts of the two most frequent classes."""
    g = torch.Generator().manual_seed(seed)
    m, s = per_channel(mean, shape), per_channel(std, shape)
    x = ((torch.rand((256,) + tuple(shape), generator=g) - m) / s).double()
    with torch.no_grad():
        y = model.double()(x)
    model.float()
    return x[map_samples(y, n)].numpy()


def map_samples(y, n=2):
    """The indices of n samples of the N×K×H×W maps ``y`` chosen as ``map_inputs`` says."""
    counts = map_counts(y)
    top = counts.sort(1, descending=True).values
    ok = ((counts > 0).sum(1) >= 3) & (top[:, 0] > top[:, 1]) & (top[:, 1] > top[:, 2])
    picked, seen = [], set()
    for i in torch.nonzero(ok).flatten().tolist():
        first = int(counts[i].argmax())
        if first not in seen:
            picked.append(i)
            seen.add(first)
        if len(picked) == n:
            return picked
    raise RuntimeError("no inputs whose maps predict different classes")


def map_references(model, x, mean, std, first_conv_input=None):
    """zennit's outputs and relevance for a segmentation network, float64: the output times
    the mask of a class (its channel where it is the pixel's argmax), for the class at the
    most pixels of each sample (``R__``) and at the second most (``Rsecond__``). zB's bounds
    have the shape of the first convolution's input: ``x``'s unless ``first_conv_input``
    says (a Keras twin permutes N×H×W×C inside)."""
    model = model.double().eval()
    x = torch.as_tensor(x, dtype=torch.float64)
    mean_t, std_t = per_channel(mean, x.shape[1:]).double(), per_channel(std, x.shape[1:]).double()
    shape = x.shape if first_conv_input is None else first_conv_input
    low = ((0 - mean_t) / std_t).expand(shape).contiguous()
    high = ((1 - mean_t) / std_t).expand(shape).contiguous()
    Merge.zennit = True  # additions through zennit's Sum, as ``references`` has them
    try:
        with torch.no_grad():
            Y = model(x)
        order = map_counts(Y).argsort(1, descending=True)
        out = {"Y": Y.numpy(), "target": order[:, 0].numpy(), "second": order[:, 1].numpy()}
        for key, classes in (("R__", order[:, 0]), ("Rsecond__", order[:, 1])):
            c = classes.reshape(-1, 1, 1, 1)
            channel = torch.arange(Y.shape[1]).reshape(1, -1, 1, 1)
            mask = ((Y.argmax(1, keepdim=True) == c) & (channel == c)).to(Y)
            for name, comp in composites(low, high).items():
                with Gradient(model, comp) as attributor:
                    y, R = attributor(x, lambda y, mask=mask: y * mask)
                assert torch.allclose(y, Y, atol=1e-12)
                out[key + name] = R.detach().numpy()
    finally:
        Merge.zennit = False
    return out


def _trimmed(trace):
    """A stack trace with this machine's paths cut: from ``torch/`` on in site-packages, the
    file name alone elsewhere."""
    def cut(m):
        path = m.group(1).replace("\\", "/")
        return 'File "%s"' % (path.split("site-packages/")[-1] if "site-packages/" in path
                             else os.path.basename(path))
    return re.sub(r'File "([^"]*)"', cut, trace)


def export(model, shape, path, dynamo, optimize=True, opset=17, external=False,
           functions=False, double=False, traces=False):
    """``external``: the weights in ``path + '.data'``, as ``dynamo=True`` writes them by
    default (the other files keep one file); ``functions``: each module a local function;
    ``double``: the model exported in float64 (``model.double()``); ``traces``: dynamo's stack
    traces kept, as it writes them by default (paths trimmed), else dropped."""
    model = (model.double() if double else model.float()).eval()
    x = torch.zeros((1,) + tuple(shape), dtype=torch.float64 if double else torch.float32)
    if dynamo:
        torch.onnx.export(model, (x,), path, dynamo=True, input_names=["input"],
                          output_names=["logits"], optimize=optimize)
    else:
        torch.onnx.export(model, (x,), path, dynamo=False, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "N"},
                                                                  "logits": {0: "N"}},
                          opset_version=opset, export_modules_as_functions=functions)
    import onnx

    proto = onnx.load(path)  # dynamo may write weights beside the file: keep one file
    for node in proto.graph.node:  # and drop the stack traces (paths of this machine)
        keep = [p for p in node.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        if traces:
            for p in node.metadata_props:
                if p.key == "pkg.torch.onnx.stack_trace":
                    p.value = _trimmed(p.value)
            keep = list(node.metadata_props)
        del node.metadata_props[:]
        node.metadata_props.extend(keep)
    if os.path.exists(path + ".data"):
        os.remove(path + ".data")  # onnx.save appends to an existing data file
    if external:
        onnx.save(proto, path, save_as_external_data=True,
                  location=os.path.basename(path) + ".data", size_threshold=0)
    else:
        onnx.save(proto, path, save_as_external_data=False)


def main(out_dir, only=()):
    os.makedirs(out_dir, exist_ok=True)
    for seed, (name, (build, shape, mean, std)) in enumerate(MODELS.items()):
        if only and name not in only:
            continue
        torch.manual_seed(seed)
        model = calibrate(randomise(build(), seed), shape, mean, std, seed)
        if name == "resnet":  # every BatchNorm unfolded, exported by dynamo; reference folds
            raw = calibrate(randomise(build(), seed), shape, mean, std, seed)  # exactly
            x = inputs(shape, mean, std, raw, 100 + seed)
            export(raw, shape, os.path.join(out_dir, "resnet_bn_dynamo.onnx"), dynamo=True,
                   optimize=False)  # the optimiser would fold them in float32
            folded = fold_conv_bn(calibrate(randomise(build(), seed), shape, mean, std, seed)
                                  .double(), torch.float64)
            ref = references(folded, x, mean, std)
            np.savez_compressed(os.path.join(out_dir, "resnet_bn.npz"), x=x, mean=mean,
                                std=std, **ref)
        fold_conv_bn(model, torch.float32)
        if name in SEGMENT:
            x = map_inputs(shape, mean, std, model, 100 + seed)
        else:
            x = inputs(shape, mean, std, model, 100 + seed, binary=name in BINARY_INPUTS)
        if name in DYNAMO_ONLY:
            pass
        elif name in FUNCTIONS:
            export(model, shape, os.path.join(out_dir, f"{name}_functions.onnx"), dynamo=False,
                   functions=True)
        else:
            export(model, shape, os.path.join(out_dir, f"{name}_ts.onnx"), dynamo=False)
        try:
            export(model, shape, os.path.join(out_dir, f"{name}_dynamo.onnx"), dynamo=True,
                   traces=name in TRACES)
        except Exception as exc:  # noqa: BLE001 - reported, the TorchScript file still counts
            print(f"{name}: dynamo export failed: {exc}", file=sys.stderr)
        if name in NOOPT:
            export(model, shape, os.path.join(out_dir, f"{name}_noopt.onnx"), dynamo=True,
                   optimize=False)
        if name in EXTERNAL_DATA:
            export(model, shape, os.path.join(out_dir, f"{name}_extdata.onnx"), dynamo=True,
                   external=True)
        if name in FLOAT64:
            export(model, shape, os.path.join(out_dir, f"{name}_float64.onnx"), dynamo=False,
                   double=True)
        for opset in TS_OPSETS.get(name, ()):
            export(model, shape, os.path.join(out_dir, f"{name}_op{opset}.onnx"), dynamo=False,
                   opset=opset)
        # zB's bounds: the input's range, also where the model normalises inside (innorm,
        # transform): EpsilonGammaBox(low, high) as a checker gives it the input's bounds
        if name in SEGMENT:
            ref = map_references(model, x, mean, std)
            np.savez_compressed(os.path.join(out_dir, f"{name}.npz"), x=x, mean=mean, std=std,
                                **ref)
            print(name, "predicts most", ref["target"].tolist(), "then", ref["second"].tolist())
            continue
        ref = references(model, x, mean, std)
        np.savez_compressed(os.path.join(out_dir, f"{name}.npz"), x=x, mean=mean, std=std,
                            **ref)
        print(name, "predicts", ref["Y"].argmax(1).tolist())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/zoo", sys.argv[2:])
