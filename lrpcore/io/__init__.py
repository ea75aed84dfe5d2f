"""Reading and writing models (and, in :mod:`lrpcore.io.datasets`, datasets)."""

from .models import load_model, save_model

__all__ = ["load_model", "save_model"]
