"""The extra CA of ``SYNC_EXTRA_CA_FILE`` is trusted besides the system store, never instead of it.

Real TLS handshakes in memory (``ssl.MemoryBIO``): the "system" store is a second test CA named by
``SSL_CERT_FILE``, which OpenSSL's default verify paths honour, so both trust sources are exercised.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from devstack import TestCA
from sync.mail.ews.account import trust_bundle
from sync.mail.transport import client_tls_context


def _handshake(client: ssl.SSLContext, server_ca: TestCA) -> None:
    """A full handshake between ``client`` and a server holding ``server_ca``'s localhost certificate."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(server_ca.server_cert, server_ca.server_key)
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client_side = client.wrap_bio(c_in, c_out, server_hostname="localhost")
    server_side = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):  # a TLS 1.3 handshake needs a few flights; a failure raises on the client side
        for name, side in (("client", client_side), ("server", server_side)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


@pytest.fixture
def system_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestCA:
    ca = TestCA.create(tmp_path / "system")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_cert))
    return ca


def test_a_server_signed_by_the_extra_ca_is_trusted(tmp_path: Path, system_ca: TestCA) -> None:
    extra = TestCA.create(tmp_path / "extra")
    _handshake(client_tls_context(str(extra.ca_cert)), extra)


def test_the_system_store_is_still_trusted_with_an_extra_ca(tmp_path: Path, system_ca: TestCA) -> None:
    extra = TestCA.create(tmp_path / "extra")
    _handshake(client_tls_context(str(extra.ca_cert)), system_ca)


def test_an_unknown_ca_is_still_refused(tmp_path: Path, system_ca: TestCA) -> None:
    extra = TestCA.create(tmp_path / "extra")
    stranger = TestCA.create(tmp_path / "stranger")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(client_tls_context(str(extra.ca_cert)), stranger)


def test_the_ews_bundle_keeps_the_system_store_and_adds_the_extra_ca(tmp_path: Path, system_ca: TestCA) -> None:
    extra = TestCA.create(tmp_path / "extra")
    bundle = trust_bundle(str(extra.ca_cert))  # what requests verifies EWS connections against
    for server in (extra, system_ca):
        _handshake(ssl.create_default_context(cafile=bundle), server)
