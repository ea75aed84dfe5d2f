"""One check shared by the tests of activation-like layers: forward values and gradient."""

import numpy as np


def check_forward_and_gradient(layer, want, x):
    """``layer`` computes ``want`` at ``x`` (to 1e-12), and its gradient matches ``want``'s
    central difference (step 1e-6, to 1e-5)."""
    y = layer.forward(x, np)
    np.testing.assert_allclose(y, want(x), rtol=1e-12, atol=1e-12)
    h = 1e-6
    numeric = (want(x + h) - want(x - h)) / (2 * h)
    np.testing.assert_allclose(layer.gradient(x, y, np.ones_like(x), np, np.float64), numeric,
                               rtol=1e-5, atol=1e-7)
