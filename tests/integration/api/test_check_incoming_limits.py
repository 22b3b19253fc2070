"""CheckIncomingEmail on a message over a hard parse limit: the answer names the limit, nothing is stored."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from bench import hostile_messages as hostile
from sync.store import Store
from tests.integration.api.conftest import MailWorld

pytestmark = pytest.mark.integration


def test_a_message_over_a_hard_limit_would_be_quarantined(
    admin: TestClient, reader: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin)
    before = len(list(isolated_store.item_failures.query()))
    encoded = base64.b64encode(hostile.many_parts(1_500)).decode()
    answer = reader.post(f"/api/mailboxes/{mailbox_id}/check-incoming", json={"mime_base64": encoded})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["reason"], body["would_be_tracked"], "more than 1000 MIME parts" in str(body)) == (
        "Quarantined",
        False,
        True,
    )
    assert len(list(isolated_store.item_failures.query())) == before
