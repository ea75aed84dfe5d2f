"""Insight tools of the explorer: compare rules, conservation per layer, pixel-flipping and
a drawing pad. The computations are ``lrpcore.insight``'s; this package holds their views and
the worker tasks that feed them (``worker_tasks``, no Qt)."""

from __future__ import annotations

__all__ = ["install_insight_tools"]


def __getattr__(name):
    if name == "install_insight_tools":  # Qt is imported on first use
        from .tools import install_insight_tools

        return install_insight_tools
    raise AttributeError(name)
