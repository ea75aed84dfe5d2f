"""Insight computations: rule comparison, conservation, gradient baselines, pixel-flipping.

Everything here is headless and cheap to call from a GUI worker: long loops take a
``progress(done, total)`` callback and a ``cancel()`` callback (returning True stops the work
with :class:`Cancelled`), and all maps come from one cached forward pass where possible.
"""

from .baselines import BASELINES, attribute, gradient_x_input, input_gradient, sensitivity
from .compare import Comparison, MapRow, class_relevance, compare, contrast_map
from .conservation import (
    ConservationRow,
    conservation,
    conservation_from_trace,
    format_conservation,
    layer_relevance_map,
)
from .pixelflip import FlipResult, evaluate_methods, flip_curves
from .tasks import Cancelled

__all__ = [
    "BASELINES", "attribute", "gradient_x_input", "input_gradient", "sensitivity",
    "Comparison", "MapRow", "class_relevance", "compare", "contrast_map",
    "ConservationRow", "conservation", "conservation_from_trace", "format_conservation",
    "layer_relevance_map", "FlipResult", "evaluate_methods", "flip_curves", "Cancelled",
]

from ..lazy import submodule_getattr  # noqa: E402

__getattr__ = submodule_getattr(__name__)  # lrpcore.insight.diagnose, imported on first use
