"""Path parameter converters: a pattern to match one segment (or the rest of
the path), a function to turn the text into a Python value, and one to turn a
value back into URL text.

Register your own with :func:`register_converter`::

    register_converter("slug", r"[a-z0-9-]+", str, str)
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["Converter", "register_converter", "get_converter", "CONVERTERS"]


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


CONVERTERS: dict[str, Converter] = {}


def register_converter(
    name: str,
    regex: str,
    to_python: Callable[[str], Any] = str,
    to_url: Callable[[Any], str] = str,
    *,
    priority: int = 30,
) -> Converter:
    """Register a converter usable as ``{name:<name>}`` in every pattern.

    The regex must match a whole segment (it is applied with ``fullmatch``
    and may not contain ``/``). Raise ``ValueError`` from ``to_python`` to
    reject a segment that matched the regex.
    """
    if not name.isidentifier():
        raise ValueError(f"converter name {name!r} is not an identifier")
    if name in CONVERTERS:
        raise ValueError(f"converter {name!r} is already registered")
    try:
        re.compile(regex)
    except re.error as exc:
        raise ValueError(f"converter {name!r}: invalid regex {regex!r}: {exc}") from None
    conv = Converter(name, regex, to_python, to_url, priority=priority)
    CONVERTERS[name] = conv
    return conv


def get_converter(name: str) -> Converter:
    """Return the registered converter ``name`` or raise ``ValueError``."""
    try:
        return CONVERTERS[name]
    except KeyError:
        known = ", ".join(sorted(CONVERTERS))
        raise ValueError(f"unknown converter {name!r} (known: {known})") from None


def _builtin(conv: Converter) -> None:
    CONVERTERS[conv.name] = conv


# Specificity order: uuid, int, float, user converters (30), str, then path.
_builtin(Converter("uuid", r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                   r"[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}", _to_uuid, str, priority=10))
_builtin(Converter("int", r"[0-9]{1,18}", int, str, priority=20))
_builtin(Converter("float", _FLOAT, _to_float, _float_to_url, priority=25))
# ``str`` matches any non-empty segment: no regex needed (PERF).
_builtin(Converter("str", None, str, str, priority=90))
_builtin(Converter("path", None, str, str, priority=100, greedy=True))
