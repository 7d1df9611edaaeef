"""Route templates: parsing ``/users/{id:int}`` into segments, and building
URLs back from them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from .converters import BUILTINS, Converter, get_converter

__all__ = ["Route", "Param", "dotted_name", "parse_template"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_][A-Za-z0-9_]*))?\}")
_BAD_LITERAL = re.compile(r"[{}\x00-\x1f\x7f?#]")


def dotted_name(obj: Any) -> str:
    """``module.QualName`` of a function or class, or of an instance's class::

        dotted_name(Route)  # 'webkit_app.routing.template.Route'
    """
    module = getattr(obj, "__module__", None) or type(obj).__module__
    qual = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{module}.{qual}"


class Param:
    """A placeholder segment: its name and converter."""

    __slots__ = ("name", "converter")

    def __init__(self, name: str, converter: Converter) -> None:
        self.name = name
        self.converter = converter

    def __repr__(self) -> str:
        return "{%s:%s}" % (self.name, self.converter.name)


Segment = str | Param


def parse_template(pattern: str,
                   converters: Mapping[str, Converter] = BUILTINS) -> list[Segment]:
    """Split ``pattern`` into literal strings and :class:`Param` objects, the
    placeholders' converters taken from ``converters``.

    Raises ``ValueError`` naming the pattern when it is not valid.
    """
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise ValueError(f"route pattern {pattern!r} must be a string starting with '/'")
    parts = pattern[1:].split("/")
    segments: list[Segment] = []
    seen: set[str] = set()
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "" and not last:
            raise ValueError(f"route pattern {pattern!r} has an empty segment ('//')")
        m = _PLACEHOLDER.fullmatch(part)
        if m is None:
            if _BAD_LITERAL.search(part):
                raise ValueError(
                    f"route pattern {pattern!r}: segment {part!r} must be a literal or a "
                    "whole '{name}' / '{name:converter}' placeholder"
                )
            segments.append(part)
            continue
        name, conv_name = m.group(1), m.group(2) or "str"
        if name in seen:
            raise ValueError(f"route pattern {pattern!r} repeats the parameter {name!r}")
        seen.add(name)
        try:
            conv = get_converter(conv_name, converters)
        except ValueError as exc:
            raise ValueError(f"route pattern {pattern!r}: {exc}") from None
        if conv.greedy and not last:
            raise ValueError(f"route pattern {pattern!r}: '{{{name}:path}}' must be the last segment")
        segments.append(Param(name, conv))
    return segments


def shape(segments: list[Segment]) -> tuple[str, ...]:
    """The matching identity of a template: literals and converter names."""
    return tuple(s if isinstance(s, str) else "{:%s}" % s.converter.name for s in segments)


class Route:
    """One registered route: pattern, methods, optional name and handler,
    and its own body limit (``None``: the App's)."""

    __slots__ = ("pattern", "methods", "name", "handler", "segments", "names", "is_static",
                 "max_body_size")

    def __init__(
        self,
        pattern: str,
        methods: tuple[str, ...],
        handler: Callable[..., Any],
        name: str | None = None,
        max_body_size: int | None = None,
        converters: Mapping[str, Converter] = BUILTINS,
    ) -> None:
        self.pattern = pattern
        self.methods = methods
        self.name = name
        self.handler = handler
        self.max_body_size = max_body_size
        self.segments = parse_template(pattern, converters)
        self.names = tuple(s.name for s in self.segments if isinstance(s, Param))
        self.is_static = not self.names

    @property
    def handler_name(self) -> str:
        """The handler's dotted name, for route listings."""
        return dotted_name(self.handler)

    def build(self, params: Mapping[str, Any]) -> str:
        """Return the percent-encoded path for ``params`` (no SCRIPT_NAME)."""
        missing = [n for n in self.names if n not in params]
        if missing:
            raise KeyError(f"route {self.name or self.pattern!r} needs parameter(s) {missing}")
        extra = sorted(set(params) - set(self.names))
        if extra:
            raise KeyError(f"route {self.name or self.pattern!r} has no parameter(s) {extra}")
        out = []
        for seg in self.segments:
            if isinstance(seg, str):
                out.append(quote(seg, safe="@:!$&'()*+,;=-._~"))
                continue
            conv = seg.converter
            text = conv.to_url(params[seg.name])
            if not isinstance(text, str) or text == "" or (
                conv._match is not None and conv._match(text) is None
            ):
                raise ValueError(
                    f"route {self.name or self.pattern!r}: {seg.name}={params[seg.name]!r} "
                    f"is not a valid {conv.name}"
                )
            out.append(quote(text, safe="/" if conv.greedy else "@:!$&'()*+,;=-._~"))
        return "/" + "/".join(out)

    def __repr__(self) -> str:
        return f"<Route {'|'.join(self.methods)} {self.pattern} name={self.name!r}>"
