"""Path parameter converters: a pattern to match one segment (or the rest of
the path), a function to turn the text into a Python value, and one to turn a
value back into URL text.

The built-ins (``uuid``, ``int``, ``float``, ``str``, ``path``) are shared
read-only; an application adds its own to its App, as Werkzeug's ``Map``
takes them, never to the process::

    app = App(converters={"slug": new_converter("slug", r"[a-z0-9]+(?:-[a-z0-9]+)*")})
    app.add_converter("even", r"[0-9]*[02468]", int)
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["BUILTINS", "Converter", "get_converter", "new_converter"]


class Converter:
    """How one kind of placeholder matches, converts and builds.

    ``priority`` orders parameter edges at a trie node: lower is tried first,
    so the most specific converter wins (``int`` before ``str``).
    """

    __slots__ = ("name", "regex", "to_python", "to_url", "priority", "greedy", "_match")

    def __init__(
        self,
        name: str,
        regex: str | None,
        to_python: Callable[[str], Any] = str,
        to_url: Callable[[Any], str] = str,
        priority: int = 50,
        greedy: bool = False,
    ) -> None:
        self.name = name
        self.regex = regex
        self.to_python = to_python
        self.to_url = to_url
        self.priority = priority
        self.greedy = greedy
        # PERF: compiled once here; serving only calls the bound fullmatch.
        self._match = re.compile(regex).fullmatch if regex is not None else None

    def convert(self, text: str) -> Any:
        """Return the Python value for ``text``, or raise ``ValueError``."""
        match = self._match
        if match is not None and match(text) is None:
            raise ValueError(text)
        return self.to_python(text)

    def __repr__(self) -> str:
        return f"<Converter {self.name} {self.regex!r}>"


def _to_uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


def _to_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # NOTE: "1e999" matches the regex but is inf
        raise ValueError(text)
    return value


def _float_to_url(value: float) -> str:
    # NOTE: repr is the shortest text that reads back as the same float; for
    # nan and inf it fails the regex, so url building refuses them.
    return repr(float(value))


#: what repr(float) writes for a finite float ("-1.5", "1e+20", "1e-07"),
#: and the same without a fraction ("3", "1e5"); no nan, inf, "1." or ".5"
_FLOAT = r"-?[0-9]{1,20}(?:\.[0-9]{1,40})?(?:[eE][-+]?[0-9]{1,3})?"


def new_converter(
    name: str,
    regex: str,
    to_python: Callable[[str], Any] = str,
    to_url: Callable[[Any], str] = str,
    *,
    priority: int = 30,
) -> Converter:
    """A converter for ``{x:<name>}``, checked, to give to an App::

        App(converters={"slug": new_converter("slug", r"[a-z0-9-]+")})

    The regex must match a whole segment (it is applied with ``fullmatch``
    and may not contain ``/``). Raise ``ValueError`` from ``to_python`` to
    reject a segment that matched the regex.
    """
    if not name.isidentifier():
        raise ValueError(f"converter name {name!r} is not an identifier")
    try:
        re.compile(regex)
    except re.error as exc:
        raise ValueError(f"converter {name!r}: invalid regex {regex!r}: {exc}") from None
    return Converter(name, regex, to_python, to_url, priority=priority)


def get_converter(name: str, converters: Mapping[str, Converter] | None = None) -> Converter:
    """Return the converter ``name`` of ``converters`` (the built-ins by
    default: an App's are ``app.router.converters``) or raise ``ValueError``."""
    known = BUILTINS if converters is None else converters
    try:
        return known[name]
    except KeyError:
        raise ValueError(f"unknown converter {name!r} (known: {', '.join(sorted(known))})") from None


# Specificity order: uuid, int, float, user converters (30), str, then path.
_BUILTIN_LIST = (
    Converter("uuid", r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
              r"[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}", _to_uuid, str, priority=10),
    Converter("int", r"[0-9]{1,18}", int, str, priority=20),
    Converter("float", _FLOAT, _to_float, _float_to_url, priority=25),
    # ``str`` matches any non-empty segment: no regex needed (PERF).
    Converter("str", None, str, str, priority=90),
    Converter("path", None, str, str, priority=100, greedy=True),
)
#: the built-in converters, shared read-only by every App
BUILTINS: Mapping[str, Converter] = MappingProxyType({c.name: c for c in _BUILTIN_LIST})
