"""lrpcore: the headless Layer-wise Relevance Propagation engine of LRP Explorer.

Entry points: :func:`load_model`, :func:`predict`, :func:`explain`; richer objects are
:class:`Explainer` (one cached forward pass, many explanations) and the rule/preset registries.
Submodules, imported on first use: ``lrpcore.render`` (heatmaps, PNGs), ``lrpcore.export``,
``lrpcore.insight`` (comparisons, conservation, pixel-flipping; ``insight.diagnose``,
``insight.sweep``, ``insight.sanity``), ``lrpcore.concepts`` and ``lrpcore.relmax`` (CRP),
``lrpcore.spray`` (SpRAy). Results are numpy arrays.

Every error a caller can cause derives from :class:`LRPError` (and from ValueError, OSError or
RuntimeError as fits), so ``except lrpcore.LRPError`` catches bad files, arguments and shapes
alike; a job stopped through its ``cancel`` callback raises :class:`Cancelled`. Raw samples
that do not look raw give a :class:`RawValuesWarning`. This package never imports Qt.
"""

from .conventions import default_settings
from .errors import (
    BackendError,
    Cancelled,
    DatasetError,
    ExportError,
    LRPError,
    ModelFormatError,
    RawValuesWarning,
    RuleError,
    ShapeError,
)
from .explain import Explainer, Forward, explain, predict, resolve_rules
from .io import Dataset, check_fits, load_labels, load_model, open_dataset, save_model
from .io.image_folder import fit_image
from .io.relevance_store import RelevanceStore, open_relevance_store  # zarr imported on use
from .lazy import submodule_getattr as _submodule_getattr
from .model import Sequential
from .presets import PRESETS
from .rules import RULE_NAMES, parse_rule

__version__ = "0.1.0"

__all__ = [
    "BackendError", "DatasetError", "ExportError", "LRPError", "ModelFormatError", "RuleError",
    "ShapeError", "Cancelled", "RawValuesWarning", "Explainer", "Forward", "explain", "predict",
    "resolve_rules", "load_model",
    "save_model", "Sequential", "Dataset", "check_fits", "load_labels", "open_dataset",
    "PRESETS", "RULE_NAMES", "parse_rule", "__version__", "RelevanceStore",
    "open_relevance_store", "default_settings", "fit_image",
]


# ``lrpcore.render.heatmap(...)``, ``lrpcore.insight.compare(...)`` after ``import lrpcore``,
# as the README writes them; the submodule is imported on first use
__getattr__ = _submodule_getattr(__name__)
