"""Sphinx configuration of the webkit_app manual (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "_ext"), str(HERE.parent)]

project = "webkit_app"
author = "webkit_app contributors"
copyright = "webkit_app contributors, MIT License"
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinxarg.ext",
    "benchcharts",
    "apiref",
]

root_doc = "index"
exclude_patterns = ["_build", "_generated/*.txt"]
templates_path: list[str] = []
html_theme = "furo"
html_title = "webkit_app"
html_static_path: list[str] = []

nitpicky = True
# NOTE: names in signatures that live outside this project's docs (WSGI type
# aliases from typeshed, WebOb internals without an inventory here): no
# internet at build time, so no intersphinx inventories are fetched.
nitpick_ignore_regex = [
    (r"py:.*", r"(_typeshed|webob|webtest|pyramid|waitress|pytest|_pytest|multipart|argparse|"
               r"contextlib|logging|collections|typing|types|pathlib|dataclasses|concurrent|threading|"
               r"socket|io|json|uuid|re|datetime|decimal|enum|abc|os|http|email|hashlib|hmac)"
               r"(\..*)?"),
    (r"py:.*", r"(Any|Self|None|Callable|Iterable|Iterator|Mapping|Sequence|MutableMapping|"
               r"ModuleType|Path|IO|TextIO|BinaryIO|Pattern|Match|NamedTuple|ClassVar|"
               r"WSGIApplication|WSGIEnvironment|StartResponse|Connection|Handler|ErrorHandler|"
               r"Coerce|Layer|Filter|T|Field|Response|Request|MultiDict|NestedMultiDict|"
               r"FieldStorage|GetDict|ResponseHeaders|EnvironHeaders|Logger|LogRecord|"
               r"Formatter|Filterer|Thread|Lock|Condition|Future|Executor|UUID|"
               r"Exception|BaseException|ValueError|KeyError|TypeError|ImportError|"
               r"HTTP[A-Za-z]*|WSGIHTTPException|HTTPError|int|str|bytes|float|bool|dict|"
               r"list|tuple|set|frozenset|object|type|Iterable\[.*\]|.*\[.*\])"),
]

nitpick_ignore_regex += [
    # private submodules a package docstring names (documented through the package)
    (r"py:mod", r"\.?(template|converters|trie|config|wsgi|store|webkit_app\.demo\..+)"),
    (r"py:(func|meth|data|class)", r"(.*\.)?_[a-z_]+"),
    (r"py:class", r"(webkit_app\.demo\..+|Configurator)"),
    # module constants outside ``__all__`` that a docstring names
    (r"py:data", r"(BUSY_STALL_TIMEOUT|WRAPPED_ATTRIBUTES)"),
    (r"py:class", r"Loaded"),  # a type alias of the session module (not public)
    (r"py:class", r"webkit_app\.response\.CloseForwarder"),  # a base class, not public
    (r"py:func", r"layers"),  # the demo's stack, webkit_app.demo.factory (not public)
]

autodoc_member_order = "bysource"
autodoc_preserve_defaults = True  # defaults by name (BUILTINS), not their repr
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "show-inheritance": True}
# NOTE: the extras are installed in the docs build (the ``docs`` extra pulls
# ``test``), so nothing is mocked: a name that does not import fails the build.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
suppress_warnings: list[str] = []
