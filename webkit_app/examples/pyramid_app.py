"""A Pyramid application using the toolkit two ways, and its ini files.

* ``/api/...``: the example App's handlers registered as Pyramid views
  (``config.include("webkit_app.pyramid")``, ``config.add_webkit_routes``).
* ``/kit/...``: another instance of the App mounted whole with
  :func:`pyramid.wsgi.wsgiapp2` (``SCRIPT_NAME`` becomes ``/kit``).

Load it from ``pyramid.ini`` next to this module::

    pserve webkit_app/examples/pyramid.ini
    proutes webkit_app/examples/pyramid.ini
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.wsgi import wsgiapp2

from webkit_app.examples.kit import make_kit

__all__ = ["main", "index"]


def index(request: Any) -> dict[str, str]:
    """A Pyramid view linking to toolkit routes by name."""
    return {
        "api_user": request.route_path("user", id=7),
        "kit_user": request.route_path("kit", subpath=("users", "7")),
    }


def main(global_config: dict[str, str] | None = None, **settings: str) -> Any:
    """The Pyramid app factory (``use = call:webkit_app.examples.pyramid_app:main``)."""
    config = Configurator(settings=settings)
    config.include("webkit_app.pyramid")
    config.add_webkit_routes(make_kit(), prefix="/api")
    # NOTE: ``/kit/*subpath`` does not match ``/kit`` itself: a route for each.
    kit = wsgiapp2(make_kit())
    config.add_route("kit_root", "/kit")
    config.add_route("kit", "/kit/*subpath")
    config.add_view(kit, route_name="kit_root")
    config.add_view(kit, route_name="kit")
    config.add_route("index", "/")
    config.add_view(index, route_name="index", renderer="json")
    return config.make_wsgi_app()
