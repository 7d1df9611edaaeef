"""The demo's WSGI entry point for servers: ``webkit_app.demo.wsgi:application``.

gunicorn, uWSGI and mod_wsgi import this module once per process and call
``application``; it is :func:`webkit_app.demo.create_app` configured from the
environment.
"""

from .factory import create_app

application = create_app()
