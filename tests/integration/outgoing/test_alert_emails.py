"""Alerts of a failing profile and the emails they send (R-ERR-5, R-ERR-7), on Dovecot, aiosmtpd and Azurite.

Mailboxes fail for real (their profile points at a port nothing listens on), then recover when the profile
points at Dovecot; alert emails go through the outgoing queue and sender to the local SMTP server.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default

import pytest

from sync.auth.secrets import seal_field
from sync.health.alerts import CODE_INCOMING_TRANSIENT
from sync.health.notifications import CODE_ALERT_EMAIL_NOT_SENT
from sync.health.profile_alerts import CODE_PROFILE_MOSTLY_FAILING
from sync.incoming.worker import MailboxWorker
from sync.mailboxes.provisioning import Provisioning
from sync.model import EmailServerProfile, Mailbox, SystemUser
from sync.model.options import EmailAddressApproval, ServerType
from sync.model.profile import TlsMode
from sync.scheduling.scheduler import Scheduler, schedule_now
from sync.services import incoming_connectors
from sync.settings import Settings
from sync.store.schema import alert_row_key
from tests.integration.outgoing.conftest import Outbox
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration

NOTHING_LISTENS = 9  # the discard port: connection refused on loopback


@dataclass
class FailingProfile:
    outbox: Outbox
    settings: Settings
    profile: EmailServerProfile
    owner: str

    def mailbox(self) -> Mailbox:
        """A user whose mailbox receives through the profile: approved, with its Dovecot login."""
        address = f"u-{uuid.uuid4().hex[:10]}@example.test"
        self.outbox.dovecot.add_user(address, MAIL_PASSWORD)
        store = self.outbox.store
        _, mailbox = Provisioning(store).create_user(
            SystemUser(full_name=f"User {address[:12]}", internal_email_address=address)
        )
        mailbox = store.get_mailbox(mailbox.id)
        mailbox.email_server_profile_id = self.profile.id
        mailbox.approval = EmailAddressApproval.APPROVED
        mailbox.allow_credentials_for_email_processing = True
        mailbox.username = address
        seal_field(self.outbox.box, mailbox, "password", MAIL_PASSWORD)
        store.mailboxes.update(mailbox)
        return schedule_now(store, mailbox.id)

    def cycle(self, mailbox: Mailbox) -> str:
        """One incoming cycle, by a worker that reads the profile as it is now."""
        store, now = self.outbox.store, self.outbox.clock()
        fresh = store.get_mailbox(mailbox.id)
        item = Scheduler(store, self.settings, lambda item: None).claim(fresh, store.get_profile(self.profile.id), now)
        worker = MailboxWorker(
            store, self.settings, self.outbox.box, incoming_connectors(), clock=self.outbox.clock,
            monotonic=self.outbox.clock.monotonic,
        )  # fmt: skip
        return worker.run(item).status

    def repair(self) -> None:
        """Point the profile's incoming side at Dovecot."""
        profile = self.outbox.store.get_profile(self.profile.id)
        profile.incoming_server_location, profile.incoming_port = "localhost", self.outbox.dovecot.imaps_port
        profile.incoming_tls, profile.allow_plaintext = TlsMode.IMPLICIT, False
        self.outbox.store.profiles.update(profile)

    def alerts_received_by(self, address: str) -> list[str]:
        """Subjects of the messages the SMTP server accepted for ``address``."""
        return [
            str(message_from_bytes(m.data, policy=default)["Subject"])
            for m in self.outbox.smtp.messages
            if address in m.rcpt_tos
        ]


@pytest.fixture
def failing(outbox: Outbox) -> FailingProfile:
    _, sender = outbox.mailbox(queue=True)  # the queue whose mailbox sends alert emails
    owner = f"owner-{uuid.uuid4().hex[:8]}@example.test"
    outbox.dovecot.add_user(owner, MAIL_PASSWORD)
    profile = outbox.store.profiles.insert(
        EmailServerProfile(
            name=f"Failing {owner[6:14]}", server_type=ServerType.IMAP_SMTP, incoming_server_location="127.0.0.1",
            incoming_port=NOTHING_LISTENS, incoming_tls=TlsMode.NONE, allow_plaintext=True,
            outgoing_server_location="localhost", outgoing_port=outbox.smtp.submission_port,
            outgoing_tls=TlsMode.STARTTLS, timeout_mailbox_connection_after_ms=2000, send_email_alert=True,
            owner_email_address=owner,
        )
    )  # fmt: skip
    settings = outbox.settings.model_copy(update={"alert_email_sender": sender.email_address})
    return FailingProfile(outbox, settings, profile, owner)


def test_r_err_5_and_r_err_7_two_failing_mailboxes_one_profile_alert_that_closes_and_one_email(
    failing: FailingProfile, outbox: Outbox
) -> None:
    bob, jane = failing.mailbox(), failing.mailbox()
    store, profile_id = outbox.store, failing.profile.id
    assert failing.cycle(bob) == "failed"
    assert store.alerts.find(profile_id, alert_row_key(CODE_PROFILE_MOSTLY_FAILING)) is None  # 1 of 2: not > half
    assert failing.cycle(jane) == "failed"
    assert failing.cycle(bob) == "failed"  # the same episode: no second email

    for mine, other in ((bob, jane), (jane, bob)):
        (alert,) = store.alerts.partition(mine.id)
        assert alert.code == CODE_INCOMING_TRANSIENT and alert.mailbox_id == mine.id
        assert mine.name in alert.text and other.name not in alert.text
    on_profile = {a.code: a for a in store.alerts.partition(profile_id)}
    assert set(on_profile) == {CODE_INCOMING_TRANSIENT, CODE_PROFILE_MOSTLY_FAILING}
    aggregated = on_profile[CODE_INCOMING_TRANSIENT]
    assert [m.mailbox_id for m in aggregated.mailboxes] == [bob.id, jane.id] and aggregated.mailbox_id is None
    assert bob.name in aggregated.text and jane.name in aggregated.text and aggregated.code_name == "ConnectionFailed"

    outbox.drain(outbox.sender())
    (subject,) = failing.alerts_received_by(failing.owner)  # the email carries a tracking token, as any other
    assert subject.startswith(f"More than half of the mailboxes of the email server profile {failing.profile.name}")

    failing.repair()
    assert failing.cycle(bob) == "processed"
    still = store.alerts.get(profile_id, alert_row_key(CODE_INCOMING_TRANSIENT))
    assert [m.mailbox_id for m in still.mailboxes] == [jane.id] and still.resolved_on is None
    assert failing.cycle(jane) == "processed"
    for code in (CODE_INCOMING_TRANSIENT, CODE_PROFILE_MOSTLY_FAILING):
        closed = store.alerts.get(profile_id, alert_row_key(code))
        assert closed.resolved_on is not None and closed.dismissed, code
    outbox.drain(outbox.sender())
    assert len(failing.alerts_received_by(failing.owner)) == 1


def test_r_err_7_a_new_episode_emails_again(failing: FailingProfile, outbox: Outbox) -> None:
    only = failing.mailbox()
    assert failing.cycle(only) == "failed"
    failing.repair()
    assert failing.cycle(only) == "processed"
    broken = outbox.store.get_profile(failing.profile.id)
    broken.incoming_port = NOTHING_LISTENS
    outbox.store.profiles.update(broken)
    assert failing.cycle(only) == "failed"
    outbox.drain(outbox.sender())
    assert len(failing.alerts_received_by(failing.owner)) == 2


def test_r_err_5_mailbox_owners_hear_of_server_level_alerts_when_the_organization_asks(
    failing: FailingProfile, outbox: Outbox
) -> None:
    org = outbox.store.get_organization()
    org.notify_mailbox_owner_of_server_level_alerts = True
    outbox.store.organization.upsert(org)
    try:
        bob = failing.mailbox()
        assert failing.cycle(bob) == "failed"
        assert failing.cycle(bob) == "failed"  # still on the profile's alert: one email
    finally:
        org.notify_mailbox_owner_of_server_level_alerts = False
        outbox.store.organization.upsert(org)
    outbox.drain(outbox.sender())
    (subject,) = failing.alerts_received_by(bob.email_address or "")
    assert subject.startswith(f"Your mailbox {bob.name} has a server-level alert")


def test_r_err_7_without_an_alert_sender_the_profile_says_the_email_was_not_sent(
    failing: FailingProfile, outbox: Outbox
) -> None:
    failing.settings = failing.settings.model_copy(update={"alert_email_sender": None})
    only = failing.mailbox()
    assert failing.cycle(only) == "failed"
    not_sent = outbox.store.alerts.get(failing.profile.id, alert_row_key(CODE_ALERT_EMAIL_NOT_SENT))
    assert failing.owner in not_sent.text and "SYNC_ALERT_EMAIL_SENDER" in not_sent.text
    outbox.drain(outbox.sender())
    assert failing.alerts_received_by(failing.owner) == []


def test_r_err_6_with_error_alerts_off_the_episode_is_kept_off_the_wall_and_still_emails_once(
    failing: FailingProfile, outbox: Outbox
) -> None:
    org = outbox.store.get_organization()
    org.generate_alerts_for_errors = False
    outbox.store.organization.upsert(org)
    try:
        only = failing.mailbox()
        assert failing.cycle(only) == "failed"
        assert failing.cycle(only) == "failed"
    finally:
        org.generate_alerts_for_errors = True
        outbox.store.organization.upsert(org)
    episode = outbox.store.alerts.get(failing.profile.id, alert_row_key(CODE_PROFILE_MOSTLY_FAILING))
    assert episode.dismissed and episode.resolved_on is None and episode.count == 2
    outbox.drain(outbox.sender())
    assert len(failing.alerts_received_by(failing.owner)) == 1
