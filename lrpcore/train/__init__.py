"""Training of sequential models with plain backpropagation (numpy, or cupy on a GPU).

The pieces: :mod:`.backprop` (gradients of every layer type), :mod:`.losses` (fused
softmax cross-entropy), :mod:`.optim` (SGD with momentum, Adam, weight decay, learning-rate
schedules), :mod:`.architectures` (the LRP Toolbox's named networks and a layer mini-syntax),
:mod:`.data` (training data, shift augmentation, splits), :mod:`.checkpoint` (resumable,
pickle-free checkpoints) and :mod:`.loop` (the epoch loop behind ``lrp train``).
"""

from .architectures import ARCHITECTURES, build_model, parse_layers
from .backprop import backward, forward_trace
from .loop import TrainConfig, train
from .losses import softmax_cross_entropy
from .optim import OPTIMIZERS, make_optimizer

__all__ = ["ARCHITECTURES", "build_model", "parse_layers", "backward", "forward_trace",
           "softmax_cross_entropy", "TrainConfig", "train", "OPTIMIZERS", "make_optimizer"]
