"""The package ``webkit_app.middleware`` is the API: no public name is, or hides, a submodule."""

import importlib
import importlib.util
import inspect
import pkgutil

import pytest

import webkit_app.middleware as middleware

PUBLIC = sorted(middleware.__all__)
MIDDLEWARE = ("access_log", "basic_auth", "body_limit", "cors", "cross_origin", "errors",
              "request_id", "session")


@pytest.mark.parametrize("name", PUBLIC)
def test_no_submodule_shares_a_public_name(name):
    assert importlib.util.find_spec(f"webkit_app.middleware.{name}") is None
    assert not inspect.ismodule(getattr(middleware, name))


def test_every_submodule_is_private():
    found = [m.name for m in pkgutil.iter_modules(middleware.__path__)]
    assert found, "the package has implementation modules"
    assert [name for name in found if not name.startswith("_")] == []


@pytest.mark.parametrize("name", MIDDLEWARE)
def test_importing_a_middleware_by_its_old_module_path_fails_loudly(name):
    with pytest.raises(ModuleNotFoundError, match=f"webkit_app.middleware.{name}"):
        importlib.import_module(f"webkit_app.middleware.{name}")


DEFINED = [n for n in PUBLIC
           if inspect.isclass(getattr(middleware, n)) or inspect.isfunction(getattr(middleware, n))]


@pytest.mark.parametrize("name", DEFINED)
def test_each_public_name_is_the_object_its_home_module_defines_under_that_name(name):
    value = getattr(middleware, name)
    home = importlib.import_module(value.__module__)
    assert home.__name__.startswith("webkit_app.")
    assert getattr(home, name) is value


@pytest.mark.parametrize("name", MIDDLEWARE)
def test_each_middleware_name_is_its_private_modules_middleware(name):
    private = importlib.import_module(f"webkit_app.middleware._{name}")
    assert getattr(middleware, name) is getattr(private, name)
    assert inspect.isclass(getattr(middleware, name)) or inspect.isfunction(
        getattr(middleware, name))
