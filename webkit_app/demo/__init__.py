"""The reference service: a notes API built on the toolkit's public API only.

It shows the toolkit in production shape: settings (:mod:`.config`), the
factory that wraps the App in the middleware stack (:mod:`.factory`), the WSGI
entry point for servers (:mod:`.wsgi`), a SQLite store behind the connection
pool (:mod:`.store`), health checks, downloads, an admin page and a debug
environ page. Nothing in the toolkit imports it::

    from webkit_app.demo import Config, create_app, make_demo

    application = create_app()                    # Config.from_environ(os.environ)
    app = make_demo(Config(debug=True))           # the App alone, for tests
"""

from .app import make_demo, make_store
from .config import Config
from .factory import create_app, wrap

__all__ = ["Config", "create_app", "make_demo", "make_store", "wrap"]
