"""How the parity tests measure agreement with a reference's relevance (zennit's, the
toolbox's): one definition, so that every tolerance they state means the same thing."""

from __future__ import annotations

import numpy as np


def relative_error(R, ref):
    """Per sample, the largest difference from ``ref`` relative to that sample's largest
    reference value (a map's scale differs between samples; one tolerance fits all)."""
    n = len(ref)
    return (np.abs(R - ref).reshape(n, -1).max(axis=1)
            / np.abs(ref).reshape(n, -1).max(axis=1))
