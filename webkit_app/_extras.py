"""Optional dependencies, imported when first needed, with one line naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtra", "require"]


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says how to install it."""


def require(module: str, extra: str, needed_for: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtra` naming the extra::

        waitress = require("waitress", "server", "webkit-app serve")
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is None or not (module + ".").startswith(exc.name + "."):
            raise  # NOTE: the package is there but broken: show the real error
        raise MissingExtra(f"{needed_for} needs {module.split('.')[0]}, which is not installed: "
                           f"pip install 'webkit_app[{extra}]'") from None
