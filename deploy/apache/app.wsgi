"""mod_wsgi entry point for webkit_app (``WSGIScriptAlias`` or ``mod_wsgi-express``).

mod_wsgi does not pass Apache's ``SetEnv`` to ``os.environ``, where
:class:`webkit_app.demo.Config` reads its settings. They come from the
environment Apache starts with (``/etc/apache2/envvars``, a systemd
``Environment=``) or, when present, from an env file of ``NAME=value`` lines
(``#`` comments allowed): ``$WEBKIT_APP_ENV_FILE``, else
``/etc/webkit_app/env``. A variable already in the environment wins.

::

    mod_wsgi-express start-server deploy/apache/app.wsgi --port 8000
"""

import os


def _load_env_file(path):
    """Add ``NAME=value`` lines of ``path`` to ``os.environ`` (existing names win)."""
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip().isidentifier():
                raise RuntimeError(f"{path}:{number}: expected NAME=value, got {line[:40]!r}")
            os.environ.setdefault(name.strip(), value.strip().strip("\"'"))


_env_file = os.environ.get("WEBKIT_APP_ENV_FILE", "/etc/webkit_app/env")
if os.path.isfile(_env_file):
    _load_env_file(_env_file)

# NOTE: imported after the environment is complete: the app reads its
# configuration once, at import.
from webkit_app.demo.wsgi import application  # noqa: E402, F401
