"""The WSGI entry point for servers: ``webkit_app.wsgi:application``.

gunicorn, uWSGI and mod_wsgi import this module once per process and call
``application``; it is :func:`webkit_app.create_app` configured from the
environment.
"""

from . import create_app

application = create_app()
