"""Complete examples shown in README.rst and run by the tests.

* :mod:`.kit`: a small toolkit :class:`~webkit_app.App`.
* :mod:`.pyramid_app`: a Pyramid application that includes the toolkit,
  mounts an App and is loaded from ``pyramid.ini`` or ``urlmap.ini``.
"""
