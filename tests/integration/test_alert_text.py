"""What a server answers reaches an alert as one short printable line: no headers, no body, no escapes.

A profile may point at any service that speaks enough of the protocol to answer with an error: its
message is the server's to choose (a Graph ``error.message``, an EWS fault, a banner). The alert, which
every reader of the admin API lists, keeps the classified reason and one sanitized line of it, whatever
the failure path (Test & Enable, the incoming cycle). Stored in and read back from the real store.
"""

from __future__ import annotations

import pytest

from sync.health.alerts import Alerts, incoming_failure_text, mailbox_ref
from sync.health.enable_alerts import failure_text
from sync.model import Mailbox
from sync.model.options import OutgoingDeliveryMethod
from sync.store import Store

pytestmark = pytest.mark.integration

SERVER_ANSWER = (
    "GET /users/a@example.test/mailFolders/inbox: HTTP 400 BadRequest: \x1b[2Jrequest refused\r\n"
    "Server: internal-metadata\r\nX-Internal-Token: 7f3c9a1b-internal-credential\r\n\r\n"
    '{"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}' + " padding" * 100
)


def _check(shown: str) -> None:
    assert "7f3c9a1b" not in shown and "SecretAccessKey" not in shown and "Server:" not in shown
    assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown


def _mailbox(name: str) -> Mailbox:
    return Mailbox(name=name, is_forward_mailbox=True, outgoing_method=OutgoingDeliveryMethod.NONE)


def test_a_test_and_enable_failure_keeps_one_short_line(isolated_store: Store) -> None:
    mailbox = _mailbox("Alert mailbox")
    org = isolated_store.get_organization()
    text = failure_text(mailbox.name, "Profile", "incoming", "Bad\nCode\x1b", SERVER_ANSWER)
    Alerts(isolated_store).raise_alert(org, text, mailbox_ref(mailbox), mailbox_id=mailbox.id)
    (alert,) = Alerts(isolated_store).for_mailbox(mailbox.id)
    assert alert.error_details is not None
    _check(alert.text + alert.error_details + (alert.code_name or ""))
    assert "inbox: HTTP 400 BadRequest:" in alert.text  # the classified reason and the start of the server line
    assert len(alert.error_details) <= 200
    assert alert.code_name == "BadCode"


def test_an_incoming_cycle_failure_keeps_one_short_line(isolated_store: Store) -> None:
    mailbox = _mailbox("Cycle mailbox")
    org = isolated_store.get_organization()
    text = incoming_failure_text(mailbox, "Profile", "BadRequest", SERVER_ANSWER, disabled=True, authentication=False)
    Alerts(isolated_store).raise_alert(org, text, mailbox_ref(mailbox), mailbox_id=mailbox.id)
    (alert,) = Alerts(isolated_store).for_mailbox(mailbox.id)
    assert alert.error_details is not None
    _check(alert.text + alert.error_details)
    assert alert.error_details.startswith("GET /users/a@example.test/mailFolders/inbox: HTTP 400 BadRequest")
    assert len(alert.error_details) <= 200
