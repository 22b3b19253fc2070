"""A server that refuses login without TLS: a typed configuration error, and the password never sent in the clear.

Against Mailutils' TLS-required ports (``tls-mode required``: IMAP capability XTLSREQUIRED, POP3 CAPA without
USER); Dovecot treats loopback as secure and never refuses there.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devstack import Mailutils
from sync.mail.errors import MailServerError, SecureConnectionRequired
from sync.mail.imap import ImapConnector
from sync.mail.pop3 import Pop3Connector
from tests.integration.mail.conftest import settings
from tests.integration.mail.flaky_proxy import FlakyProxy
from tests.stack_fixtures import MAIL_DOMAIN, MAIL_PASSWORD, MailUser

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_only_user(mailutils: Mailutils) -> MailUser:
    user = MailUser(f"tls-only@{MAIL_DOMAIN}", MAIL_PASSWORD)
    mailutils.add_user(user.address, user.password)
    return user


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_a_server_refusing_plaintext_login_is_a_secure_connection_error_not_wrong_credentials(
    mailutils: Mailutils, tls_only_user: MailUser, proxy: Callable[[int], FlakyProxy], protocol: str
) -> None:
    port = mailutils.imap_tls_required_port if protocol == "imap" else mailutils.pop3_tls_required_port
    wire = proxy(port)
    plaintext = settings(tls_only_user, wire.port, "none", ca=None, host=wire.host)
    connector = ImapConnector() if protocol == "imap" else Pop3Connector()

    with pytest.raises(MailServerError) as raised:
        connector.open(plaintext).close()

    assert type(raised.value) is SecureConnectionRequired
    assert raised.value.code == "SecureConnectionRequired"
    sent = b"\n".join(wire.client_lines_since(0))
    assert MAIL_PASSWORD.encode() not in sent  # refused before the password went out in the clear
