"""Routing: templates and converters (:mod:`.template`, :mod:`.converters`)
compiled into a static dict plus a segment trie (:mod:`.trie`)."""

from .converters import BUILTINS, Converter, get_converter, new_converter
from .template import Param, Route, dotted_name, parse_template
from .trie import ANY_METHOD, Endpoint, Router

__all__ = [
    "ANY_METHOD",
    "BUILTINS",
    "Converter",
    "Endpoint",
    "Param",
    "Route",
    "Router",
    "dotted_name",
    "get_converter",
    "new_converter",
    "parse_template",
]
