"""Routing: templates and converters (:mod:`.template`, :mod:`.converters`)
compiled into a static dict plus a segment trie (:mod:`.trie`)."""

from .converters import Converter, get_converter, register_converter
from .template import Param, Route, parse_template
from .trie import ANY_METHOD, Endpoint, Router

__all__ = [
    "ANY_METHOD",
    "Converter",
    "Endpoint",
    "Param",
    "Route",
    "Router",
    "get_converter",
    "parse_template",
    "register_converter",
]
