"""App.add_error_handler / @app.error_handler: one way for an app to turn its
own exceptions (and the App's 404/405) into responses, alike when mounted and
under Pyramid."""

from __future__ import annotations

import pytest
from webob.exc import HTTPMethodNotAllowed, HTTPNotFound, HTTPServiceUnavailable
from webtest import TestApp

from webkit_app import App, Request, html_response, json_response, text_response


class OutOfStock(Exception):
    def __init__(self, item: str) -> None:
        super().__init__(item)
        self.item = item


class Backorder(OutOfStock):
    pass


def make_app() -> App:
    app = App()

    @app.route("/buy/{item}")
    def buy(request: Request):
        item = request.urlvars["item"]
        if item == "back":
            raise Backorder(item)
        if item == "broken":
            raise KeyError("a bug, not an error the app maps")
        raise OutOfStock(item)

    @app.error_handler(OutOfStock)
    def out_of_stock(request: Request, exc: OutOfStock):
        return json_response({"error": "out of stock", "item": exc.item,
                              "path": request.path_info}, status=409)

    return app


def test_a_registered_exception_becomes_the_handlers_response():
    res = TestApp(make_app()).get("/buy/apple", status=409)
    assert res.json == {"error": "out of stock", "item": "apple", "path": "/buy/apple"}


def test_a_subclass_uses_the_nearest_registered_base():
    app = make_app()
    assert TestApp(app).get("/buy/back", status=409).json["item"] == "back"

    app2 = make_app()
    app2.add_error_handler(Backorder, lambda request, exc: text_response("later", status=202))
    assert TestApp(app2).get("/buy/back", status=202).text == "later"
    assert TestApp(app2).get("/buy/apple", status=409).json["item"] == "apple"


def test_an_unmapped_exception_still_propagates():
    with pytest.raises(KeyError, match="a bug"):
        TestApp(make_app()).get("/buy/broken")


def test_not_found_and_method_not_allowed_can_be_rendered_differently():
    app = App()
    app.add_route("GET", "/here", lambda request: text_response("ok"))

    @app.error_handler(HTTPNotFound)
    def not_found(request, exc):
        return html_response(f"<h1>Nothing at {request.path_info}</h1>", status=404)

    @app.error_handler(HTTPMethodNotAllowed)
    def not_allowed(request, exc):
        return text_response(f"no: {exc.headers['Allow']}", status=405,
                             headers={"Allow": exc.headers["Allow"]})

    t = TestApp(app)
    res = t.get("/nowhere", status=404)
    assert res.content_type == "text/html" and res.text == "<h1>Nothing at /nowhere</h1>"
    res = t.post("/here", status=405)
    assert res.text == "no: GET, HEAD, OPTIONS" and res.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert t.get("/here").text == "ok"


def test_a_handler_may_raise_an_http_error_and_it_is_rendered():
    app = make_app()
    app.add_error_handler(OutOfStock, lambda request, exc: (_ for _ in ()).throw(
        HTTPServiceUnavailable("busy", headers=[("Retry-After", "3")])))
    res = TestApp(app).get("/buy/apple", headers={"Accept": "application/json"}, status=503)
    assert res.headers["Retry-After"] == "3"
    assert res.json["detail"] == "busy"


def test_error_handler_responses_are_checked_like_any_handlers(caplog):
    app = make_app()
    app.add_error_handler(OutOfStock, lambda request, exc: "not a response")
    res = TestApp(app).get("/buy/apple", headers={"Accept": "application/json"}, status=500)
    assert res.json["detail"] == "The handler did not return a response"
    assert "returned str, not a webob.Response" in caplog.text


@pytest.mark.parametrize("exc_type, handler, message", [
    pytest.param("OutOfStock", lambda r, e: None, "is not an exception class", id="not-a-class"),
    pytest.param(int, lambda r, e: None, "is not an exception class", id="not-an-exception"),
    pytest.param(OutOfStock, "nope", "is not callable", id="handler-not-callable"),
])
def test_registration_refuses_mistakes(exc_type, handler, message):
    with pytest.raises(TypeError, match=message):
        App().add_error_handler(exc_type, handler)


def test_no_handler_after_the_first_request():
    app = make_app()
    TestApp(app).get("/buy/apple", status=409)
    with pytest.raises(RuntimeError, match="has served requests"):
        app.add_error_handler(KeyError, lambda request, exc: text_response("x"))


def test_a_mounted_app_keeps_its_own_handlers():
    outer = App()
    outer.mount("/shop", make_app())
    res = TestApp(outer).get("/shop/buy/pear", status=409)
    assert res.json == {"error": "out of stock", "item": "pear", "path": "/buy/pear"}


def test_the_demo_maps_its_pool_timeout_to_503_with_retry_after(tmp_path):
    from webkit_app.demo import Config, make_demo
    from webkit_app.pool import PoolTimeout

    app = make_demo(Config(debug=True, database_url=f"sqlite:///{tmp_path / 'n.db'}",
                           files_dir=str(tmp_path)))

    def busy(request):
        raise PoolTimeout(2.5, 10)

    app.add_route("GET", "/busy", busy)
    res = TestApp(app).get("/busy", headers={"Accept": "application/json"}, status=503)
    assert res.headers["Retry-After"] == "3"
    assert res.json["detail"] == "The database is busy; try again shortly"


def test_pyramid_embedding_uses_the_apps_error_handlers():
    from pyramid.config import Configurator

    config = Configurator()
    config.include("webkit_app.pyramid")
    kit = make_app()
    config.add_webkit_routes(kit, prefix="/kit")
    t = TestApp(config.make_wsgi_app())
    res = t.get("/kit/buy/plum", status=409)
    assert res.json == {"error": "out of stock", "item": "plum", "path": "/kit/buy/plum"}
    with pytest.raises(KeyError, match="a bug"):
        t.get("/kit/buy/broken")
