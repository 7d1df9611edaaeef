"""``.. api-module:: webkit_app.app``: autodoc for one public module, its ``__all__`` only.

A name the package ``webkit_app`` re-exports (``App``, ``Request``, ...) is
documented once, under ``webkit_app``, and skipped in the module it comes
from, so a cross-reference to it has one target. ``tests/test_docs.py``
checks that every name of every public module's ``__all__`` is in the
built reference.
"""

from __future__ import annotations

import functools
import importlib
import typing
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from sphinx.util.nodes import nested_parse_with_titles

#: the public modules in the order of ``docs/api.rst``: an object is
#: documented under the first of them whose ``__all__`` names it
MODULES = (
    "webkit_app", "webkit_app.app", "webkit_app.routing", "webkit_app.request",
    "webkit_app.response", "webkit_app.body", "webkit_app.httperror", "webkit_app.dec",
    "webkit_app.middleware", "webkit_app.settings", "webkit_app.factory", "webkit_app.health",
    "webkit_app.pool", "webkit_app.views", "webkit_app.paths", "webkit_app.pyramid", "webkit_app.paste",
    "webkit_app.server", "webkit_app.cli", "webkit_app.testing", "webkit_app.demo",
)


def _shared(value: Any) -> bool:
    """Whether ``value`` is one object under several names (a class or a
    function), not a constant that merely compares equal."""
    if typing.get_origin(value) is not None:  # a type alias such as Union[...]
        return False
    return callable(value) or isinstance(value, type)


@functools.cache
def homes() -> dict[int, str]:
    """``id(object)`` to the one dotted name it is documented under."""
    out: dict[int, str] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            value = getattr(module, attr)
            if _shared(value):
                out.setdefault(id(value), f"{name}.{attr}")
    return out


def reexported(module_name: str) -> list[str]:
    """Names of ``module_name``'s ``__all__`` documented under an earlier module."""
    module = importlib.import_module(module_name)
    home = homes()
    return [n for n in module.__all__ if _shared(getattr(module, n))
            and home[id(getattr(module, n))] != f"{module_name}.{n}"]


def indent_examples(app: Any, what: str, name: str, obj: Any, options: Any,
                    lines: list[str]) -> None:
    """Keep the code's docstring style: a summary ending ``::`` and the example.

    The summary sits on the first line, so the example below it is dedented
    with the rest of the docstring and would no longer be a literal block.
    """
    if not lines or not lines[0].rstrip().endswith("::"):
        return
    rest = [line for line in lines[1:] if line.strip()]
    if rest and not rest[0].startswith(" "):
        lines[1:] = [f"    {line}" if line.strip() else line for line in lines[1:]]


def skip_aliases(app: Any, what: str, name: str, obj: Any, skip: bool, options: Any) -> Any:
    """A class attribute that is a public class (``Request.ResponseClass``)
    is documented where the class is, not again as an attribute."""
    if what == "class" and isinstance(obj, type) and id(obj) in homes():
        return True
    return None


def resolve_elsewhere(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """A Python cross-reference to a re-exported name, resolved to its home.

    ``:func:`render_http_error``` inside :mod:`webkit_app.httperror` names the
    function documented as ``webkit_app.render_http_error``.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    module = node.get("py:module") or ""
    klass = node.get("py:class") or ""
    for candidate in (f"{module}.{klass}.{target}", f"{module}.{target}",
                      f"webkit_app.{target}", target):
        name = documented_name(candidate)
        if name is not None and name != node["reftarget"]:
            return env.get_domain("py").resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], name, node, contnode)
    return None


def documented_name(candidate: str) -> str | None:
    """The name ``candidate``'s object is documented under, or ``None``."""
    home = homes()
    head, _, attr = candidate.rpartition(".")
    obj = _lookup(head, attr) if head else None
    if obj is not None and id(obj) in home:
        return home[id(obj)]
    outer, _, inner = head.rpartition(".")
    container = _lookup(outer, inner) if outer else None
    if container is not None and id(container) in home:
        return f"{home[id(container)]}.{attr}"
    return None


def _lookup(dotted: str, attr: str) -> Any:
    """The object ``dotted.attr``, the head imported as a module or an attribute path."""
    parts = dotted.split(".")
    if not all(parts):
        return None
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in [*parts[cut:], attr]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


class ApiModule(Directive):
    required_arguments = 1
    has_content = False

    def run(self) -> list[Any]:
        name = self.arguments[0]
        if name not in MODULES:
            raise self.error(f"{name} is not in apiref.MODULES")
        lines = [f".. automodule:: {name}", "   :members:", "   :undoc-members:",
                 "   :show-inheritance:"]
        module = importlib.import_module(name)
        data = [n for n in module.__all__ if not _shared(getattr(module, n))]
        skip = reexported(name) + data
        if skip:
            lines.append(f"   :exclude-members: {', '.join(skip)}")
        # NOTE: autodoc lists a constant only when its own module gives it a
        # ``#:`` comment; every constant of ``__all__`` is listed here instead.
        lines += [line for n in data for line in ("", f".. autodata:: {name}.{n}")]
        holder = nodes.container()
        nested_parse_with_titles(self.state, StringList(lines, source=f"<api-module {name}>"),
                                 holder)
        return list(holder.children)


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("api-module", ApiModule)
    app.connect("autodoc-process-docstring", indent_examples)
    app.connect("missing-reference", resolve_elsewhere)
    app.connect("autodoc-skip-member", skip_aliases)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
