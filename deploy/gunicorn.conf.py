"""gunicorn settings for webkit_app: ``gunicorn -c deploy/gunicorn.conf.py``.

Every setting can be overridden from the environment, so one file serves a
laptop, a container and a VM::

    SECRET_KEY=... PORT=8080 WEB_CONCURRENCY=4 gunicorn -c deploy/gunicorn.conf.py

===========================  ==================================  =======================
Variable                     Setting                             Default
===========================  ==================================  =======================
``WSGI_APP``                 ``wsgi_app``                        the demo
``BIND``                     ``bind`` (wins over HOST and PORT)  ``HOST:PORT``
``HOST``, ``PORT``           ``bind``                            ``127.0.0.1``, ``8000``
``WEB_CONCURRENCY``          ``workers`` (also ``WORKERS``)      ``2``
``WORKER_CLASS``             ``worker_class``                    ``sync``
``THREADS``                  ``threads``                         ``1``
``MAX_REQUESTS``             ``max_requests``                    ``1000``
``MAX_REQUESTS_JITTER``      ``max_requests_jitter``             ``100``
``TIMEOUT``                  ``timeout``                         ``30``
``GRACEFUL_TIMEOUT``         ``graceful_timeout``                ``30``
``KEEPALIVE``                ``keepalive``                       ``5``
``PRELOAD``                  ``preload_app``                     ``1``
``ACCESS_LOG``               ``accesslog`` (empty: off)          ``-`` (stdout)
``ERROR_LOG``                ``errorlog``                        ``-`` (stderr)
``LOG_LEVEL``                ``loglevel``                        ``info``
``FORWARDED_ALLOW_IPS``      ``forwarded_allow_ips``             ``127.0.0.1,::1``
``FORWARDER_HEADERS``        ``forwarder_headers``               empty: none trusted
``GUNICORN_CONTROL_SOCKET``  ``control_socket`` (unset: off)     off
===========================  ==================================  =======================

A bad value stops gunicorn before it forks, with a message naming the variable.
"""

import os

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _env(*names, default):
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return name, value
    return names[0], default


def _int(*names, default, low=0, high=1_000_000):
    name, value = _env(*names, default=str(default))
    if not (value.isascii() and value.isdigit() and low <= int(value) <= high):
        raise RuntimeError(f"{name}={value!r}: expected a whole number from {low} to {high}")
    return int(value)


def _bool(name, default):
    _, value = _env(name, default="1" if default else "0")
    if value.lower() not in _TRUE + _FALSE:
        raise RuntimeError(f"{name}={value!r}: expected one of {', '.join(_TRUE + _FALSE)}")
    return value.lower() in _TRUE


wsgi_app = _env("WSGI_APP", default="webkit_app.demo.wsgi:application")[1]
proc_name = "webkit_app"

# -- sockets ---------------------------------------------------------------------
# NOTE: loopback by default, like the app's own HOST default; a container sets
# HOST=0.0.0.0 (or BIND) because its port is published by the runtime.
_host = _env("HOST", default="127.0.0.1")[1]
_port = _int("PORT", default=8000, low=1, high=65535)
bind = [_env("BIND", default=f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}")[1]]

# -- workers ---------------------------------------------------------------------
# WEB_CONCURRENCY is what Heroku-style platforms and gunicorn itself read;
# WORKERS is the app's own name for the same thing (webkit_app.demo.Config).
workers = _int("WEB_CONCURRENCY", "WORKERS", default=2, low=1, high=1024)
worker_class = _env("WORKER_CLASS", default="sync")[1]
threads = _int("THREADS", default=1, low=1, high=1024)
# A worker is replaced after about max_requests requests (a safety net for
# slow leaks); the jitter keeps all workers from restarting at once.
max_requests = _int("MAX_REQUESTS", default=1000)
max_requests_jitter = _int("MAX_REQUESTS_JITTER", default=100)
timeout = _int("TIMEOUT", default=30, low=1)
graceful_timeout = _int("GRACEFUL_TIMEOUT", default=30, low=1)
# NOTE: keep this below the idle timeout of the proxy in front (nginx 75 s,
# AWS ALB 60 s) so the proxy never reuses a connection gunicorn just closed.
keepalive = _int("KEEPALIVE", default=5, low=0, high=3600)
# NOTE: preload imports the app once in the master, before fork: less memory,
# and an app that cannot start stops gunicorn at once instead of looping on
# worker boots. Safe here because webkit_app's pool opens no connection at
# import time (connections are created lazily, in each worker).
preload_app = _bool("PRELOAD", default=True)
# The heartbeat file lives in memory, not on a disk that may block fchmod().
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# -- requests --------------------------------------------------------------------
# gunicorn's defaults, written out: longer request lines get 414, more or
# longer header fields 431/400. gunicorn sets no body limit: the app does
# (MAX_BODY_SIZE).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# -- proxies ---------------------------------------------------------------------
# forwarded_allow_ips lists the addresses of the proxies allowed to tell
# gunicorn the original scheme (X-Forwarded-Proto, X-Forwarded-SSL: see
# secure_scheme_headers), and so make wsgi.url_scheme "https". A header from
# any other peer is ignored, so a client cannot claim https or forge its
# origin. The default is a proxy on the same host; set the proxy's address or
# network (FORWARDED_ALLOW_IPS=10.0.0.0/8). Use "*" only when nothing but the
# proxy can reach gunicorn. The client address itself (X-Forwarded-For) is the
# app's job: webkit_app trusts it only from TRUSTED_PROXIES.
forwarded_allow_ips = _env("FORWARDED_ALLOW_IPS", default="127.0.0.1,::1")[1]
# NOTE: gunicorn (>= 22) also takes the headers named in forwarder_headers
# (its default: SCRIPT_NAME,PATH_INFO) as WSGI variables from those peers; a
# proxy that passes a client's SCRIPT_NAME header on would let the client move
# every link and redirect of the app under a prefix of its choice (or get a
# 500 for a path outside it). None is trusted unless named here, for a proxy
# that sets the header itself and drops the client's. A fixed mount prefix
# needs no header: start gunicorn with SCRIPT_NAME=/prefix in its environment.
forwarder_headers = os.environ.get("FORWARDER_HEADERS", "").strip()

# -- logging ---------------------------------------------------------------------
# The Apache combined format plus the response's request id (set by the
# request_id middleware) and the duration in milliseconds, so a line here
# joins the app's own log records on rid.
accesslog = os.environ.get("ACCESS_LOG", "-").strip() or None
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
    "rid=%({x-request-id}o)s dur_ms=%(M)s"
)
errorlog = _env("ERROR_LOG", default="-")[1]
loglevel = _env("LOG_LEVEL", default="info")[1].lower()

# -- control socket --------------------------------------------------------------
# NOTE: gunicorn >= 25.1 opens a control socket at ~/.gunicorn/gunicorn.ctl by
# default, one path shared by every instance of the same user, so a second
# server would take it over. Off unless a path is given.
_control = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
control_socket_disable = not _control
if _control:
    control_socket = _control
