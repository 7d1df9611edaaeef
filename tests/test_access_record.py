"""access_log's records: built from a template, the same as makeRecord's."""

from __future__ import annotations

import logging

import pytest

from webkit_app.middleware import access_log
from webkit_app.middleware._access_log import _FORMAT, _access_record, _record_template


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_access_record_has_every_attribute_makerecord_gives():
    logger = logging.getLogger("test.access.record")
    args = ("1.2.3.4", "-", "x", "GET", "/", "HTTP/1.1", 200, 2, "-", "-", 1.0, "-")
    extra = {"method": "GET", "status": 200}
    ours = vars(_access_record(_record_template(logger.name), args, extra))
    theirs = vars(logger.makeRecord(logger.name, logging.INFO, ours["pathname"], 0, _FORMAT,
                                    args, None, "_emit", extra))
    assert set(ours) == set(theirs)
    for key in ("created", "msecs", "relativeCreated"):
        assert ours.pop(key) == pytest.approx(theirs.pop(key), abs=1000.0)
    assert ours == theirs
    assert type(_access_record(_record_template(logger.name), args, extra)) is logging.LogRecord


def test_access_log_uses_an_installed_record_factory(caplog):
    original = logging.getLogRecordFactory()

    def factory(*args, **kw):
        record = original(*args, **kw)
        record.from_factory = True
        return record

    logging.setLogRecordFactory(factory)
    try:
        with caplog.at_level(logging.INFO, logger="webkit_app.access"):
            body = access_log(_app)({"REQUEST_METHOD": "GET", "PATH_INFO": "/x"},
                                    lambda *a: None)
            list(body)
            body.close()
    finally:
        logging.setLogRecordFactory(original)
    (record,) = [r for r in caplog.records if r.name == "webkit_app.access"]
    assert record.from_factory is True
    assert record.method == "GET"
    assert record.getMessage().split('"')[1] == "GET /x -"
