"""Shared pytest configuration: the real local servers and the store built on them."""

import pytest

from sync.mail import egress

pytest_plugins = [
    "tests.stack_fixtures",
    "tests.store_fixtures",
    "tests.graph.fixtures",
    "tests.ews.fixtures",
    "tests.pop3.fixtures",
]

TEST_EGRESS = egress.EgressPolicy(allow_loopback=True)  # every test server listens on 127.0.0.1


@pytest.fixture(autouse=True)
def _loopback_mail_hosts() -> None:
    """Each test starts with loopback allowed (an app built from the environment may have changed it)."""
    egress.configure(TEST_EGRESS)
