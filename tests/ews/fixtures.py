"""pytest plugin: an ``EwsServer`` per test, and exchangelib accounts that talk to it.

Load with ``pytest_plugins = ["tests.ews.fixtures"]``. exchangelib must trust the test CA, but ``requests``
lets ``REQUESTS_CA_BUNDLE`` (set on build machines) override any ``verify=``; so while an account fixture
is active, exchangelib's HTTP adapter pins a bundle of the system CAs plus the test CA.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
import requests
from exchangelib import BASIC, Account, Configuration, Credentials, FailFast, Version, close_connections
from exchangelib.protocol import BaseProtocol
from exchangelib.version import EXCHANGE_2016

from devstack import TestCA
from tests.ews.server import EwsServer

EWS_PASSWORD = "secret"
EWS_USERS = {"alice@example.test": EWS_PASSWORD, "bob@example.test": EWS_PASSWORD}


class TestCaAdapter(requests.adapters.HTTPAdapter):
    """Verifies TLS against ``bundle`` whatever ``verify`` the caller or the environment asked for.

    Overrides ``send`` rather than ``cert_verify``: requests also keys its connection pools on ``verify``."""

    __test__: ClassVar[bool] = False
    bundle: ClassVar[str] = ""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("verify") is not False:
            kwargs["verify"] = self.bundle
        return super().send(request, *args, **kwargs)


def account(
    server: EwsServer, address: str, password: str = EWS_PASSWORD, *, username: str | None = None, **options: Any
) -> Account:
    """An exchangelib Account for mailbox ``address`` on ``server``, logging in with Basic credentials of
    ``username`` (default: the address), with a pinned version and no retries."""
    config = Configuration(
        service_endpoint=server.url,
        credentials=Credentials(username or address, password),
        auth_type=BASIC,
        version=Version(build=EXCHANGE_2016),
        retry_policy=FailFast(),
    )
    return Account(address, config=config, autodiscover=False, **options)


@pytest.fixture
def ews_trust(test_ca: TestCA) -> Iterator[None]:
    """exchangelib trusts the test CA (and the system CAs) for the duration of the test, and forgets the
    connections it cached afterwards (each test's server has its own port)."""

    class Adapter(TestCaAdapter):
        bundle = str(test_ca.combined_bundle(test_ca.directory / "ews-bundle.pem"))

    previous = BaseProtocol.HTTP_ADAPTER_CLS
    BaseProtocol.HTTP_ADAPTER_CLS = Adapter
    try:
        yield
    finally:
        BaseProtocol.HTTP_ADAPTER_CLS = previous
        close_connections()


@pytest.fixture
def ews_server(test_ca: TestCA) -> Iterator[EwsServer]:
    """A running server with Basic users and mailboxes ``EWS_USERS``."""
    with EwsServer(test_ca.server_cert, test_ca.server_key, users=EWS_USERS) as server:
        for address in EWS_USERS:
            server.add_mailbox(address)
        yield server


@pytest.fixture
def ews_account(ews_server: EwsServer, ews_trust: None) -> Callable[..., Account]:
    """``ews_account(address, password=..., username=..., **Account options)``: an Account on ``ews_server``."""

    def build(address: str, password: str = EWS_PASSWORD, **options: Any) -> Account:
        return account(ews_server, address, password, **options)

    return build
