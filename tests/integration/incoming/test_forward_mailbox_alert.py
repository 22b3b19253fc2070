"""R-FWD-8 on a real mail server: a badly forwarded message fails with InvalidForwardMailItem and raises its alert."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from sync.auth.secrets import seal_field
from sync.health.alerts import CODE_INVALID_FORWARD_ITEM
from sync.mailboxes.provisioning import Provisioning
from sync.model.options import EmailAddressApproval, FilteringMethod
from sync.scheduling.scheduler import schedule_now
from sync.store.schema import alert_row_key
from tests.integration.incoming.conftest import World, message
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration


def test_r_fwd_8_an_item_not_forwarded_as_an_attachment_raises_an_alert_on_the_forward_mailbox(world: World) -> None:
    user_box = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)  # its incoming method is not Forward
    collector_address = f"fwd8-{user_box.id[:8]}@example.test"
    world.server.add_user(collector_address, MAIL_PASSWORD)
    collector = Provisioning(world.store).create_forward_mailbox("Collector 8", collector_address, world.imap.id)
    collector = world.store.get_mailbox(collector.id)
    collector.approval = EmailAddressApproval.APPROVED
    collector.allow_credentials_for_email_processing = True
    collector.username = collector_address
    seal_field(world.box, collector, "password", MAIL_PASSWORD)
    world.store.mailboxes.update(collector)
    schedule_now(world.store, collector.id)

    inline = EmailMessage()
    inline["From"] = user_box.email_address
    inline["To"] = collector_address
    inline["Subject"] = "FW: inline"
    inline["Message-ID"] = make_msgid(domain="example.test")
    inline.set_content("forwarded inline, not as an attachment")
    attached = EmailMessage()
    attached["From"] = user_box.email_address
    attached["To"] = collector_address
    attached["Subject"] = "FW: attached"
    attached["Message-ID"] = make_msgid(domain="example.test")
    attached.set_content("forwarded as an attachment, by a user who does not use the forward mailbox")
    attached.add_attachment(message(user_box.email_address or "")[0], maintype="message", subtype="rfc822")
    world.server.deliver(collector_address, inline.as_bytes())
    world.server.deliver(collector_address, attached.as_bytes())

    report = world.cycle(collector)
    assert report.reasons["InvalidForwardMailItem"] == 2 and report.tracked == 0
    alert = world.store.alerts.get(collector.id, alert_row_key(CODE_INVALID_FORWARD_ITEM))
    assert alert.code_name == "InvalidForwardMailItem" and alert.mailbox_id == collector.id and alert.count == 2
    assert collector.name in alert.text and (user_box.email_address or "") in alert.text
    assert "does not deliver through a forward mailbox" in alert.text  # the latest item's reason
