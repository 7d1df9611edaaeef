"""The compiled router: static paths in a dict, dynamic ones in a segment trie.

Lookup cost depends on the depth of the path, not on the number of routes:
each trie node keeps its literal children in a dict and its parameter edges
in a short list sorted by converter specificity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .converters import BUILTINS, Converter
from .template import Param, Route, shape

__all__ = ["ANY_METHOD", "Endpoint", "Router", "allow_header"]

#: the method of a route taking every method its path's other routes do not
ANY_METHOD = "*"


def allow_header(methods: Iterable[str]) -> str:
    """The ``Allow`` value of a path served for ``methods``: HEAD with GET,
    OPTIONS always, and only methods by name (``"*"`` is not one)."""
    names = set(methods) - {ANY_METHOD}
    if "GET" in names:
        names.add("HEAD")
    return ", ".join(sorted(names | {"OPTIONS"}))


class Endpoint:
    """Everything registered for one path shape: a handler per method, and
    ``any``, the :data:`ANY_METHOD` route taking the other methods."""

    __slots__ = ("routes", "allow", "any")

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.allow = ""
        self.any: Route | None = None

    def add(self, route: Route) -> None:
        for method in route.methods:
            other = self.routes.get(method)
            if other is not None and method in other.methods:
                raise ValueError(
                    f"route {route.pattern!r} ({method}) conflicts with {other.pattern!r} "
                    f"registered for {method} by {other.handler_name}"
                )
        for method in route.methods:
            self.routes[method] = route
        self._finish()

    def _finish(self) -> None:
        explicit = {m: r for m, r in self.routes.items() if m in r.methods}
        # NOTE: HEAD falls back to GET (WebOb drops the body and keeps headers).
        if "GET" in explicit and "HEAD" not in explicit:
            explicit["HEAD"] = explicit["GET"]
        self.routes = explicit
        self.any = explicit.get(ANY_METHOD)
        self.allow = allow_header(explicit)


class _Node:
    __slots__ = ("children", "params", "rest", "endpoint")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        # (match, to_python, converter name, child), most specific first
        self.params: list[tuple[Any, Any, str, _Node]] = []
        self.rest: tuple[Any, Endpoint] | None = None  # the ``path`` converter
        self.endpoint: Endpoint | None = None


class Router:
    """Compiles routes into lookup structures; :meth:`match` serves requests.

    ``converters`` are this router's own, added to the shared built-ins.
    """

    __slots__ = ("static", "root", "_shapes", "routes", "converters")

    def __init__(self, converters: Mapping[str, Converter] | None = None) -> None:
        self.static: dict[str, Endpoint] = {}
        self.root = _Node()
        self._shapes: dict[tuple[str, ...], Endpoint] = {}
        self.routes: list[Route] = []
        #: the names usable in this router's patterns: the built-ins and its own
        self.converters: dict[str, Converter] = dict(BUILTINS)
        for name, converter in (converters or {}).items():
            self.add_converter(name, converter)

    def add_converter(self, name: str, converter: Converter) -> None:
        """Make ``{x:name}`` usable in the patterns of routes added from now on."""
        if not isinstance(converter, Converter) or converter.name != name:
            raise ValueError(f"converter {name!r}: expected a Converter named {name!r}, "
                             f"got {converter!r}")
        if name in self.converters:
            raise ValueError(f"converter {name!r} is already registered")
        self.converters[name] = converter

    def add(self, route: Route) -> None:
        """Add ``route``; raise ``ValueError`` naming both on a conflict."""
        key = shape(route.segments)
        endpoint = self._shapes.get(key)
        if endpoint is None:
            endpoint = Endpoint()
            endpoint.add(route)
            self._shapes[key] = endpoint
            self._place(route, endpoint)
        else:
            endpoint.add(route)
        self.routes.append(route)

    def _place(self, route: Route, endpoint: Endpoint) -> None:
        if route.is_static:
            self.static[route.pattern] = endpoint
            return
        node = self.root
        for seg in route.segments:
            if isinstance(seg, str):
                node = node.children.setdefault(seg, _Node())
            elif seg.converter.greedy:
                node.rest = (seg.converter.to_python, endpoint)
                return
            else:
                node = self._param_child(node, seg)
        node.endpoint = endpoint

    def _param_child(self, node: _Node, seg: Param) -> _Node:
        conv = seg.converter
        for _, _, name, child in node.params:
            if name == conv.name:
                return child
        child = _Node()
        node.params.append((conv._match, conv.to_python, conv.name, child))
        known = self.converters
        node.params.sort(key=lambda e: (known[e[2]].priority, e[2]))
        return child

    def match(self, path: str) -> tuple[Endpoint, list[Any]] | None:
        """Return ``(endpoint, values)`` for a decoded path, or ``None``.

        ``values`` are the converted parameters in template order.
        """
        endpoint = self.static.get(path)
        if endpoint is not None:
            return endpoint, []
        values: list[Any] = []
        endpoint = _walk(self.root, path[1:].split("/"), 0, values)
        if endpoint is None:
            return None
        values.reverse()
        return endpoint, values


def _walk(node: _Node, segs: list[str], i: int, values: list[Any]) -> Endpoint | None:
    # NOTE: values are appended while unwinding, so they end up reversed.
    if i == len(segs):
        return node.endpoint
    seg = segs[i]
    child = node.children.get(seg)
    if child is not None:
        found = _walk(child, segs, i + 1, values)
        if found is not None:
            return found
    if seg:
        for match, to_python, _, child in node.params:
            if match is not None and match(seg) is None:
                continue
            try:
                value = to_python(seg)
            except ValueError:
                continue
            found = _walk(child, segs, i + 1, values)
            if found is not None:
                values.append(value)
                return found
        rest = node.rest
        if rest is not None:
            values.append(rest[0]("/".join(segs[i:])))
            return rest[1]
    return None
