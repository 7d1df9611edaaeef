"""The demo application: the guide's examples as real endpoints.

``make_demo(config)`` returns a plain :class:`~webkit_app.App`;
:func:`webkit_app.create_app` wraps it in the middleware stack.
"""

from __future__ import annotations

from typing import Any

from ..app import App
from . import views

__all__ = ["make_demo"]


def make_demo(config: Any = None) -> App:
    """Build the demo :class:`App` (routes only, no middleware)."""
    max_body = getattr(config, "max_body_size", None)
    app = App(max_body_size=max_body) if max_body else App()
    views.register(app)
    return app
