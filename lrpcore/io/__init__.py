"""Reading and writing models and datasets."""

from .datasets import Dataset, check_fits, load_labels, open_dataset
from .models import load_model, save_model

__all__ = ["Dataset", "check_fits", "load_labels", "open_dataset", "load_model", "save_model"]

from ..lazy import submodule_getattr  # noqa: E402

__getattr__ = submodule_getattr(__name__)  # lrpcore.io.torch_pth, imported on first use
