"""A body handed to waitress as views of its bytes (web/sendbody.py) arrives whole
and in order, though waitress sends it in many pieces and seeks back over what a
send did not take; the access log counts what was sent; other servers get a list."""

from __future__ import annotations

import io
import os

import requests
from conftest import live_server

from thuvien_interop.web.accesslog import AccessLog
from thuvien_interop.web.sendbody import SentBody, response_body, sent_body


def test_a_body_larger_than_the_socket_buffers_arrives_whole_and_is_logged():
    # 24 MB: more than loopback's send and receive buffers together, so waitress's
    # sends come back short and it reads the rest again from where it stopped.
    data = os.urandom(1 << 20) * 24
    seen: list[object] = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(data)))])
        body = response_body(environ, data)
        seen.append(body)
        return body

    log = io.StringIO()
    with live_server(AccessLog(app, log)) as root:
        got = requests.get(root + "/big", timeout=60).content
    assert got == data
    assert sent_body(seen[0]) is not None, "waitress was handed the file wrapper"
    assert f'"GET /big HTTP/1.1" 200 {len(data)} ' in log.getvalue()


def test_other_servers_get_the_bytes_as_a_list():
    assert response_body({}, b"abc") == [b"abc"]
    assert sent_body([b"abc"]) is None


def test_reads_seeks_and_the_close_callback():
    body = SentBody(b"0123456789")
    assert bytes(body.read(4)) == b"0123"
    body.seek(-2, 1)
    assert bytes(body.read()) == b"23456789" and body.tell() == 10
    assert bytes(body.read(5)) == b""
    body.seek(0, 2)
    assert body.tell() == 10 and body.seekable()
    sent: list[int] = []
    body.when_closed(sent.append)
    body.close()
    body.close()
    assert sent == [10], "told once"
