"""A server that accepts login only over TLS disables incoming with the secure-connection alert, not the
credentials one (the password is right; the profile is wrong)."""

from __future__ import annotations

import pytest

from devstack import Mailutils
from sync.model import EmailServerProfile
from sync.model.options import FilteringMethod, ServerType
from sync.model.profile import TlsMode
from tests.integration.incoming.conftest import World

pytestmark = pytest.mark.integration


def test_plaintext_refused_disables_incoming_with_the_secure_connection_alert(
    world: World, mailutils: Mailutils
) -> None:
    profile = world.store.profiles.insert(
        EmailServerProfile(
            name="TLS-only IMAP on plaintext",
            server_type=ServerType.IMAP_SMTP,
            incoming_server_location="127.0.0.1",
            incoming_port=mailutils.imap_tls_required_port,
            incoming_tls=TlsMode.NONE,
            allow_plaintext=True,
            timeout_mailbox_connection_after_ms=5000,
        )
    )
    mailbox = world.user_mailbox(profile, FilteringMethod.ALL_EMAIL)

    report = world.cycle(mailbox)

    assert report.status == "disabled" and (report.error or "").startswith("SecureConnectionRequired")
    (alert,) = list(world.store.alerts.partition(mailbox.id))
    assert "establishing a secure connection" in alert.text and "implicit TLS or STARTTLS" in alert.text
    assert "credentials" not in alert.text
