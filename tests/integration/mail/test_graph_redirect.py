"""The Graph client never follows a redirect: the https-only, same-host rule holds for every request.

Two real HTTPS servers on loopback with the test CA: the "Graph" one answers 302 to the other, which
records whether anything reached it.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from devstack import TestCA
from devstack.ports import LOOPBACK
from sync.mail.errors import PermanentMailError
from sync.mail.graph.client import GraphClient

pytestmark = pytest.mark.integration


class _Server:
    def __init__(self, ca: TestCA, location: str | None) -> None:
        requests: list[str] = []
        self.requests = requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                if location is None:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"value": []}')
                    return
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = HTTPServer((LOOPBACK, 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(ca.server_cert, ca.server_key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://localhost:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def internal(test_ca: TestCA) -> Iterator[_Server]:
    server = _Server(test_ca, None)
    yield server
    server.stop()


@pytest.fixture
def redirecting(test_ca: TestCA, internal: _Server) -> Iterator[_Server]:
    server = _Server(test_ca, f"{internal.url}/latest/meta-data")
    yield server
    server.stop()


def test_a_redirect_is_refused_and_not_followed(test_ca: TestCA, redirecting: _Server, internal: _Server) -> None:
    client = GraphClient(lambda: "token", base_url=f"{redirecting.url}/v1.0", ca_file=str(test_ca.ca_cert))
    with pytest.raises(PermanentMailError) as refused:
        client.get("/users/a@example.test/messages")
    assert refused.value.code == "RedirectRefused"
    assert redirecting.requests == ["/v1.0/users/a@example.test/messages"]
    assert internal.requests == []
