"""pytest plugin: a ``Utf8Pop3Server`` per test, over implicit TLS with the session's test CA."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack import TestCA
from tests.pop3.server import Utf8Pop3Server


@pytest.fixture
def utf8_pop3(test_ca: TestCA) -> Iterator[Utf8Pop3Server]:
    """A POP3 server that offers UTF8 and, like Courier, replaces UTF-8-header mail for clients that did not send it."""
    with Utf8Pop3Server(test_ca.ssl_server_context(), {}) as server:
        yield server
