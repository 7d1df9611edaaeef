"""The application factory (extended by the production-pieces work)."""

from __future__ import annotations

from typing import Any

from .demo import make_demo

__all__ = ["create_app"]


def create_app(config: Any = None) -> Any:
    """Build the demo application."""
    return make_demo(config)
