"""lrpcore: the headless Layer-wise Relevance Propagation engine of LRP Explorer.

Entry points: :func:`load_model`, :func:`predict`, :func:`explain`; richer objects are
:class:`Explainer` (one cached forward pass, many explanations) and the rule/preset registries.
This package never imports Qt.
"""

from .conventions import default_settings
from .errors import (
    BackendError,
    DatasetError,
    ExportError,
    LRPError,
    ModelFormatError,
    RuleError,
    ShapeError,
)
from .explain import Explainer, Forward, explain, predict, resolve_rules
from .io import Dataset, check_fits, load_labels, load_model, open_dataset, save_model
from .io.image_folder import fit_image
from .io.relevance_store import RelevanceStore, open_relevance_store  # zarr imported on use
from .lazy import submodule_getattr
from .model import Sequential
from .presets import PRESETS
from .rules import RULE_NAMES, parse_rule

__version__ = "0.1.0"

__all__ = [
    "BackendError", "DatasetError", "ExportError", "LRPError", "ModelFormatError", "RuleError",
    "ShapeError", "Explainer", "Forward", "explain", "predict", "resolve_rules", "load_model",
    "save_model", "Sequential", "Dataset", "check_fits", "load_labels", "open_dataset",
    "PRESETS", "RULE_NAMES", "parse_rule", "__version__", "RelevanceStore",
    "open_relevance_store", "default_settings", "fit_image",
]


# ``lrpcore.render.heatmap(...)``, ``lrpcore.insight.compare(...)`` after ``import lrpcore``,
# as the README writes them; the submodule is imported on first use
__getattr__ = submodule_getattr(__name__)
