"""The HTTP side of :mod:`sync.mail.egress`: urllib3 connection pools whose sockets go to checked addresses.

Graph, EWS (exchangelib) and the token endpoint (MSAL) all reach the network through requests and
urllib3; an adapter calls :func:`use_checked_pools` on its pool manager, and every connection it opens
resolves the host once, checks the addresses and connects to one of them. TLS still verifies the host
name of the URL (SNI and certificate), not the address.
"""

from __future__ import annotations

import socket
from typing import Any

from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from sync.mail import egress


def _checked_socket(conn: Any) -> socket.socket:
    """What ``HTTPConnection._new_conn`` does, through :func:`egress.connect` (same urllib3 errors)."""
    try:
        sock = egress.connect(conn._dns_host, conn.port, conn.timeout)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    except TimeoutError as exc:
        raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out.") from exc
    except OSError as exc:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
    for option in conn.socket_options or ():
        sock.setsockopt(*option)
    return sock


class CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_socket(self)


class CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_socket(self)


class CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = CheckedHTTPConnection


class CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = CheckedHTTPSConnection


def use_checked_pools(manager: PoolManager) -> None:
    """Make ``manager`` open every connection through the egress check."""
    manager.pool_classes_by_scheme = {"http": CheckedHTTPConnectionPool, "https": CheckedHTTPSConnectionPool}
