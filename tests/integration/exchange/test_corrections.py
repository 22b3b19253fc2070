"""R-FLT-6 (a documented deviation): a manual regarding change of a folder-tracked email stays after the next
synchronization, end to end against the EWS and Graph test servers and Azurite."""

from __future__ import annotations

import pytest

from sync.crm.corrections import EmailCorrections
from sync.crm.records import RecordService
from sync.model import Contact, MailboxTrackingFolder
from sync.model.fields import EntityRef
from sync.model.options import EntityType, FilteringMethod
from tests.integration.exchange.conftest import ALICE, Deployment, message

pytestmark = pytest.mark.integration


def test_r_flt_6_a_manual_regarding_change_of_a_folder_tracked_email_stays_after_the_next_sync(
    deployment: Deployment,
) -> None:
    mailbox = deployment.user_mailbox(ALICE, FilteringMethod.RESPONSES_TO_CRM_EMAIL)
    folder = deployment.server.create_folder(ALICE, "inbox", "Contoso deal")
    rule_record = EntityRef(type=EntityType.ACCOUNT, id=deployment.customer.id)
    deployment.store.tracking_folders.insert(
        MailboxTrackingFolder(mailbox_id=mailbox.id, exchange_folder_id=folder, regarding=rule_record)
    )
    raw, message_id = message(ALICE, sender="buyer@contoso.test", subject="terms")
    deployment.server.deliver(ALICE, raw, folder=folder)
    deployment.run()
    [email_id] = deployment.emails(message_id)
    assert deployment.store.get_email(email_id).regarding == rule_record
    buyer = RecordService(deployment.store).create(Contact(last_name="Buyer", email_address1="buyer@contoso.test"))
    chosen = EntityRef(type=EntityType.CONTACT, id=buyer.id)

    EmailCorrections(deployment.store).set_regarding(email_id, chosen, None)
    later, later_id = message(ALICE, sender="buyer@contoso.test", subject="terms, revised")
    deployment.server.deliver(ALICE, later, folder=folder)  # the folder has news: the next cycle reads it
    deployment.cycle(mailbox)

    assert len(deployment.emails(later_id)) == 1
    assert deployment.store.get_email(email_id).regarding == chosen  # Dynamics would put the rule's record back
