"""The Functions entry points of outgoing email, called as the host calls them (handlers from get_functions())."""

from __future__ import annotations

import importlib
import sys
import uuid
from types import ModuleType
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from devstack import SmtpServer, TestCA
from sync.auth.secrets import seal_field
from sync.crm.records import RecordService
from sync.mailboxes.provisioning import Provisioning
from sync.model import Contact, EmailServerProfile, SystemUser
from sync.model.fields import EntityRef
from sync.model.options import EmailAddressApproval, ServerType, TestStatus
from sync.model.profile import TlsMode
from sync.outgoing.submit import DraftSpec, PartyInput
from sync.settings import Settings
from sync.store.names import Queue
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration


@pytest.fixture
def function_app(settings: Settings, test_ca: TestCA, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    assert settings.storage_connection_string is not None
    monkeypatch.setenv("AzureWebJobsStorage", settings.storage_connection_string.get_secret_value())
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", settings.secret_encryption_key.get_secret_value())
    monkeypatch.setenv("SYNC_STORAGE_PREFIX", settings.storage_prefix)
    monkeypatch.setenv("SYNC_EXTRA_CA_FILE", str(test_ca.ca_cert))
    monkeypatch.setenv("SYNC_ALLOW_LOOPBACK_MAIL_HOSTS", "true")  # the test servers listen on 127.0.0.1
    sys.modules.pop("function_app", None)
    module = importlib.import_module("function_app")
    module.services.store.account.ensure_created()
    return module


def _functions(module: ModuleType) -> dict[str, Any]:
    return {f.get_function_name(): f for f in module.app.get_functions()}


def test_the_triggers_are_registered(function_app: ModuleType) -> None:
    functions = _functions(function_app)
    queue = functions["send_outgoing"].get_trigger().get_dict_repr()
    assert (queue["type"], queue["queueName"]) == ("queueTrigger", "outgoing-mail")
    assert queue["connection"] == "AzureWebJobsStorage"
    timer = functions["outbox_sweep"].get_trigger().get_dict_repr()
    assert timer["schedule"] == "%SYNC_OUTBOX_SWEEP_SCHEDULE%"


def test_the_queue_handler_sends_and_the_sweep_runs(function_app: ModuleType, smtp_server: SmtpServer) -> None:
    services = function_app.services
    store = services.store
    address = f"t-{uuid.uuid4().hex[:10]}@example.test"
    smtp_server.add_user(address, MAIL_PASSWORD)
    profile = store.profiles.insert(
        EmailServerProfile(
            name="Triggers",
            server_type=ServerType.IMAP_SMTP,
            outgoing_server_location="localhost",
            outgoing_port=smtp_server.submission_port,
            outgoing_tls=TlsMode.STARTTLS,
        )
    )
    user = SystemUser(full_name="Trigger User", internal_email_address=address)
    user, mailbox = Provisioning(store).create_user(user)
    mailbox = store.get_mailbox(mailbox.id)
    mailbox.email_server_profile_id, mailbox.approval = profile.id, EmailAddressApproval.APPROVED
    mailbox.allow_credentials_for_email_processing, mailbox.username = True, address
    mailbox.outgoing_status = TestStatus.SUCCESS  # as after a Test & Enable (R-OUT-3)
    seal_field(services.secret_box, mailbox, "password", MAIL_PASSWORD)
    store.mailboxes.update(mailbox)
    contact = RecordService(store).create(Contact(last_name="Trigger", email_address1=f"c-{address}"))
    to = [PartyInput(ref=EntityRef(type=contact.entity_type, id=contact.id))]
    spec = DraftSpec(sender=EntityRef(type=user.entity_type, id=user.id), subject="Via the host", to=to)
    email = services.outgoing_emails.send(services.outgoing_emails.create_draft(spec).id)

    queue = store.account.queue(Queue.OUTGOING_MAIL)
    functions = _functions(function_app)
    handler = functions["send_outgoing"].get_user_function()
    handled = 0
    for message in queue.receive_messages(messages_per_page=32, visibility_timeout=60):
        handler(func.QueueMessage(id=message.id, body=message.content.encode(), pop_receipt=message.pop_receipt))
        queue.delete_message(message)
        handled += 1
    assert handled >= 1
    handler(func.QueueMessage(id="bad", body=b"{not json", pop_receipt="x"))  # dropped with a log line
    assert smtp_server.count_by_message_id(email.message_id or "") == 1
    assert store.get_email(email.id).status.name == "SENT"
    functions["outbox_sweep"].get_user_function()(TimerRequest(past_due=False))
    services.outgoing_sender.close()
