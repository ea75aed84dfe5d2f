"""Reading and writing models and datasets."""

from .datasets import Dataset, check_fits, load_labels, open_dataset
from .models import load_model, save_model

__all__ = ["Dataset", "check_fits", "load_labels", "open_dataset", "load_model", "save_model"]
