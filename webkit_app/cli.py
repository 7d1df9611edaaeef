"""``webkit-app``: serve, inspect and check a WSGI application.

An APP is ``module:attr`` (``module`` alone means ``module:application``),
``module:factory`` with ``--call``, or a PasteDeploy file
``config:deploy/production.ini#main``::

    webkit-app serve hello:app                       # waitress, 127.0.0.1:8000
    webkit-app serve hello:app --reload              # restart when a source file changes
    webkit-app serve --call myapp:create_app --server gunicorn --workers 4
    webkit-app routes hello:app                      # name, methods, pattern, handler
    webkit-app config                                # effective settings and their sources
    webkit-app check config:deploy/production.ini    # exit status 0, or a message and 1

The reference service is ``webkit_app.demo.wsgi:application``. ``serve``
needs the ``server`` extra (waitress, hupper); PasteDeploy files need
``paste``.

Exit status: 0 on success, 1 when the app or its configuration cannot be
loaded, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import IO, Any

from .settings import as_integer

__all__ = ["DEMO_APP", "CliError", "find_app", "load_app", "main"]

#: the reference service, named in examples and ``make run``
DEMO_APP = "webkit_app.demo.wsgi:application"
DEFAULT_SETTINGS = "webkit_app.settings:AppSettings"
#: Attributes followed from a middleware to the app it wraps, outermost first.
WRAPPED_ATTRIBUTES = ("app", "application", "middleware_wraps", "__wrapped__")
ACCESS_LOG_FORMAT = ('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
                     "rid=%({x-request-id}o)s dur_ms=%(M)s")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"

log = logging.getLogger("webkit_app")


class CliError(Exception):
    """A failure reported in one line, exit status 1."""


class UsageError(CliError):
    """A bad argument found after parsing: usage, the message, exit status 2."""


# -- loading applications --------------------------------------------------------

def load_app(spec: str | None, call: bool = False) -> Any:
    """Import the WSGI app named by ``spec`` (``module:attr`` or ``config:file.ini#name``)."""
    if not spec:
        raise UsageError(f"APP is required: module:attr, --call module:factory, or "
                         f"config:file.ini (the demo is {DEMO_APP})")
    if _is_paste(spec):
        if call:
            raise UsageError("--call needs module:factory, not a PasteDeploy file")
        return _load_paste(spec)
    obj = _load_object(spec)
    if call:
        if not callable(obj):
            raise CliError(f"{spec} is not callable, so --call cannot call it")
        obj = _guarded(f"calling {spec}()", obj)
    if not callable(obj):
        raise CliError(f"{spec} is a {type(obj).__name__}, not a WSGI application")
    return obj


def _is_paste(spec: str) -> bool:
    return spec.startswith(("config:", "egg:")) or spec.split("#", 1)[0].endswith(".ini")


def _load_paste(spec: str) -> Any:
    loadapp = _require("paste.deploy", "paste", "a PasteDeploy APP").loadapp

    uri = spec if spec.startswith(("config:", "egg:")) else "config:" + spec
    path = uri[len("config:"):].split("#", 1)[0] if uri.startswith("config:") else None
    if path is not None and not os.path.isfile(path):
        raise CliError(f"{spec}: no such file {path!r}")
    _watch(path)
    return _guarded(f"loading {spec}", loadapp, uri, relative_to=os.getcwd())


def _load_object(spec: str) -> Any:
    from .factory import get_attribute, parse_dotted

    try:
        module_name, attr = parse_dotted(spec, "application")
    except ValueError:
        raise UsageError(f"APP {spec!r} is not module:attribute (e.g. {DEMO_APP})") from None
    # NOTE: like waitress-serve and gunicorn, an app in the current directory
    # is importable; a console script's sys.path does not include it.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name + ".").startswith(exc.name + "."):
            raise CliError(f"cannot import module {module_name!r} (for {spec}): {exc}") from None
        raise CliError(f"importing module {module_name!r} failed: {_describe(exc)}") from None
    except Exception as exc:  # NOTE: anything the app's import raises, ConfigError included
        raise CliError(f"importing module {module_name!r} failed: {_describe(exc)}") from None
    try:
        return get_attribute(module, attr)
    except AttributeError:
        raise CliError(f"module {module_name!r} has no attribute {attr!r}") from None


def _guarded(what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except CliError:
        raise
    except Exception as exc:
        raise CliError(f"{what} failed: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    """``Type: message (file:line)``, the line being where it was raised."""
    from .settings import ConfigError

    if isinstance(exc, ConfigError):  # NOTE: its message already names the setting
        return f"configuration: {exc}"
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}:{exc.lineno})"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def find_app(obj: Any) -> Any:
    """The :class:`~webkit_app.App` inside ``obj``, following the attributes
    middleware keeps their app in (:data:`WRAPPED_ATTRIBUTES`); ``None`` if none."""
    from .app import App

    seen: set[int] = set()
    while obj is not None and id(obj) not in seen:
        if isinstance(obj, App):
            return obj
        seen.add(id(obj))
        obj = next((getattr(obj, a) for a in WRAPPED_ATTRIBUTES
                    if getattr(obj, a, None) is not None), None)
    return None


def _require(module: str, extra: str, needed_for: str) -> Any:
    from ._extras import MissingExtra, require

    try:
        return require(module, extra, needed_for)
    except MissingExtra as exc:
        raise CliError(str(exc)) from None


def _watch(path: str | None) -> None:
    """Ask a running reloader to watch a file that is not a Python module."""
    if not path:
        return
    hupper = _require("hupper", "server", "--reload")
    if hupper.is_active():
        hupper.get_reloader().watch_files([path])


# -- serve -----------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace, out: IO[str]) -> int:
    """Serve APP on waitress (default) or gunicorn."""
    settings = _settings(DEFAULT_SETTINGS, None)
    if args.server == "waitress":
        _require("waitress", "server", "webkit-app serve")
    hupper = _require("hupper", "server", "--reload") if args.reload else None
    if hupper is not None and not hupper.is_active():
        # NOTE: as pserve does: this process only watches files; a worker
        # process runs main() again and is restarted when a file changes.
        hupper.start_reloader("webkit_app.cli.main", worker_kwargs={"argv": args.argv},
                              verbose=1)
        return 0  # not reached: start_reloader exits
    host = args.host or settings.host
    port = args.port or settings.port
    threads = args.threads or (1 if args.server == "gunicorn" else 4)
    workers = args.workers or settings.workers
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    app = load_app(args.app, args.call)
    if args.server == "gunicorn":
        _serve_gunicorn(app, host, port, workers, threads)
    else:
        _serve_waitress(app, host, port, threads)
    return 0


def _serve_waitress(app: Any, host: str, port: int, threads: int) -> None:
    from .server import serve

    # NOTE: waitress reads a whole body before it calls the app (up to its own
    # 1 GiB limit), so the App's max_body_size is given to waitress too: a
    # Content-Length over it gets 413 as soon as the headers arrive. waitress
    # refuses a length equal to its limit, hence the + 1.
    found = find_app(app)
    limits = {"max_request_body_size": found.max_body_size + 1} if found is not None else {}

    def stop(signum: int, frame: Any) -> None:
        # NOTE: waitress ends its loop on SystemExit and joins its threads,
        # so SIGTERM (a process manager, hupper) is a clean exit 0.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    serve(app, host=host, port=port, threads=threads, **limits)


def _serve_gunicorn(app: Any, host: str, port: int, workers: int, threads: int) -> None:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise CliError("--server gunicorn: gunicorn is not installed (pip install gunicorn)") \
            from None

    # NOTE: gunicorn ships no types (types-gunicorn is not in the test extra).
    class Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                "workers": workers, "threads": threads, "proc_name": "webkit_app",
                "accesslog": "-", "access_log_format": ACCESS_LOG_FORMAT,
                # NOTE: gunicorn >= 25.1 shares one control socket per user.
                "control_socket_disable": True,
            }
            for key, value in options.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    Gunicorn().run()


# -- routes, config, check -------------------------------------------------------

def cmd_routes(args: argparse.Namespace, out: IO[str]) -> int:
    """Print APP's routes as a table."""
    obj = load_app(args.app, args.call)
    app = find_app(obj)
    if app is None:
        hint = ("; it is callable: if it is a factory that returns the app, add --call"
                if callable(obj) and not args.call and not _is_paste(args.app) else "")
        raise CliError(f"no webkit_app.App found in {args.app} (looked through "
                       f"the attributes {', '.join(WRAPPED_ATTRIBUTES)}){hint}")
    rows: list[tuple[str, ...]] = [("Name", "Methods", "Pattern", "Handler")]
    rows += [(r.name or "-", ",".join(r.methods), r.pattern, r.handler) for r in app.routes]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    rows.insert(1, tuple("-" * w for w in widths))
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    return 0


def _settings(spec: str, ini: str | None, serving: bool = False) -> Any:
    """The settings class ``spec`` names, built from the environment (and ``ini``)."""
    from .settings import AppSettings, ConfigError, Settings

    cls = _load_object(spec)
    if not (isinstance(cls, type) and issubclass(cls, Settings)):
        raise UsageError(f"--settings {spec}: not a webkit_app.settings.Settings subclass")
    try:
        settings = (cls.from_environ(os.environ) if ini is None
                    else cls.from_settings(_ini_settings(ini), environ=os.environ))
        # NOTE: only AppSettings has a secret key to require.
        if serving and isinstance(settings, AppSettings):
            settings.require_secret()
        return settings
    except ConfigError as exc:
        raise CliError(f"configuration: {exc}") from None


def _ini_settings(spec: str) -> dict[str, Any]:
    """The settings of the application section ``spec`` names, through any
    ``[pipeline:...]`` or ``filter-with`` in front of it (``appconfig`` alone
    gives a pipeline's ``[DEFAULT]`` values only)."""
    loadwsgi = _require("paste.deploy.loadwsgi", "paste", "reading an ini file")
    APP, loadcontext = loadwsgi.APP, loadwsgi.loadcontext

    uri = spec if spec.startswith("config:") else "config:" + spec
    context = _guarded(f"reading settings from {spec}", loadcontext, APP, uri,
                       relative_to=os.getcwd())
    while True:
        inner = getattr(context, "app_context", None) or getattr(context, "next_context", None)
        if inner is None:
            return dict(context.config())
        context = inner


def cmd_config(args: argparse.Namespace, out: IO[str]) -> int:
    """Print the effective settings, where each came from, secrets masked."""
    config = _settings(args.settings, args.ini)
    out.write(config.describe(f"file {args.ini}" if args.ini else "settings") + "\n")
    return 0


def cmd_check(args: argparse.Namespace, out: IO[str]) -> int:
    """Validate the configuration, then import APP."""
    ini = args.app if args.app and _is_paste(args.app) and not args.app.startswith("egg:") else None
    _settings(args.settings, ini, serving=True)
    out.write("configuration: ok\n")
    obj = load_app(args.app, args.call)
    app = find_app(obj)
    found = f"{len(app.routes)} routes" if app is not None else "a WSGI callable"
    out.write(f"application: ok, {args.app} ({found})\n")
    return 0


# -- the parser ------------------------------------------------------------------

def _argument(check: Callable[[Any], int], expected: str) -> Callable[[str], int]:
    """An argparse type from a settings coercion, with argparse's kind of error."""
    def convert(value: str) -> int:
        try:
            return check(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not {expected}") from None
    return convert


_port = _argument(as_integer(1, 65535), "a port number (1-65535)")
_positive = _argument(as_integer(1, 2**31), "a whole number >= 1")


def build_parser() -> argparse.ArgumentParser:
    """The ``webkit-app`` argument parser and its four subcommands."""
    parser = argparse.ArgumentParser(
        prog="webkit-app", description="Serve, inspect and check a webkit_app application.")
    sub = parser.add_subparsers(dest="name", metavar="COMMAND", required=True)
    app_args = argparse.ArgumentParser(add_help=False)
    app_args.add_argument("app", nargs="?", metavar="APP",
                          help=f"module:attr, or config:file.ini#name (the demo: {DEMO_APP})")
    app_args.add_argument("--call", action="store_true",
                          help="APP is a factory: call it to get the application")
    serve = sub.add_parser("serve", parents=[app_args], help="serve APP over HTTP")
    serve.add_argument("--server", choices=("waitress", "gunicorn"), default="waitress")
    serve.add_argument("--host", help="address to listen on (default $HOST or 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port (default $PORT or 8000)")
    serve.add_argument("--workers", type=_positive,
                       help="gunicorn worker processes (default $WEB_CONCURRENCY, $WORKERS or 2)")
    serve.add_argument("--threads", type=_positive,
                       help="threads per process (default: waitress 4, gunicorn 1)")
    serve.add_argument("--reload", action="store_true",
                       help="restart when a source file changes (development)")
    serve.set_defaults(command=cmd_serve, parser=serve)
    routes = sub.add_parser("routes", parents=[app_args], help="list APP's routes")
    routes.set_defaults(command=cmd_routes, parser=routes)
    settings_args = argparse.ArgumentParser(add_help=False)
    settings_args.add_argument(
        "--settings", default=DEFAULT_SETTINGS, metavar="CLASS",
        help=f"the settings class, module:Class (default {DEFAULT_SETTINGS}; "
             "the demo's: webkit_app.demo:Config)")
    config = sub.add_parser("config", parents=[settings_args],
                            help="show the effective settings and their sources")
    config.add_argument("ini", nargs="?", metavar="INI",
                        help="a PasteDeploy file whose app settings are read (the environment "
                             "wins)")
    config.set_defaults(command=cmd_config, parser=config)
    check = sub.add_parser("check", parents=[app_args, settings_args],
                           help="validate the configuration and import APP")
    check.set_defaults(command=cmd_check, parser=check)
    return parser


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    """Run ``webkit-app`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # NOTE: argparse exits 2 on bad arguments, 0 on --help
        return exc.code if isinstance(exc.code, int) else 2
    args.argv = argv
    out = out or sys.stdout
    try:
        status: int = args.command(args, out)
        out.flush()  # NOTE: a closed pipe shows here, inside the try
        return status
    except BrokenPipeError:
        # NOTE: `webkit-app routes | head -2`: the reader has what it wanted.
        # Point stdout at /dev/null so the interpreter's final flush is quiet.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except UsageError as exc:
        args.parser.print_usage(sys.stderr)
        sys.stderr.write(f"{args.parser.prog}: error: {exc}\n")
        return 2
    except CliError as exc:
        sys.stderr.write(f"webkit-app: error: {exc}\n")
        return 1
