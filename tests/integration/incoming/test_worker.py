"""Incoming cycles end to end: real Dovecot and Mailutils (IMAP and POP3), real Azurite, the real worker."""

from __future__ import annotations

import imaplib
import json
import threading
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from sync.auth.secrets import seal_field
from sync.crm.records import RecordService
from sync.incoming.processor import IncomingProcessor
from sync.incoming.replay import replay_quarantine
from sync.incoming.worker import MailboxWorker
from sync.mail.imap import ImapSession
from sync.mailboxes.provisioning import Provisioning
from sync.model import Email, EmailServerProfile, ItemFailure
from sync.model.fields import utcnow
from sync.model.options import (
    CorrelationMethod,
    EmailAddressApproval,
    EmailDirection,
    EmailStatus,
    EntityType,
    FilteringMethod,
    IncomingDeliveryMethod,
    Priority,
    ServerType,
)
from sync.model.profile import TlsMode
from sync.scheduling.scheduler import schedule_now
from sync.services import incoming_connectors
from tests.integration.incoming.conftest import Killed, World, dying_process, message
from tests.integration.mail.flaky_proxy import FlakyProxy
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration


def _failures(world: World, mailbox_id: str) -> dict[str, str]:
    return {f.message_id or f.message_key: f.reason for f in world.store.item_failures.partition(mailbox_id)}


def _emails(world: World, mailbox_id: str) -> list[Email]:
    return list(world.store.emails.query("receiving_mailbox_id eq @m", {"m": mailbox_id}))


def _inbox_count(world: World, address: str) -> int:
    with imaplib.IMAP4("127.0.0.1", world.server.imap_port) as imap:
        imap.login(address, MAIL_PASSWORD)
        _, data = imap.select("INBOX", readonly=True)
        return int(data[0] or 0)


def test_imap_mail_from_a_contact_is_tracked_with_its_parties(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS)
    raw, mid = message(mailbox.email_address or "", subject="Quote request")
    unknown, unknown_mid = message(mailbox.email_address or "", sender="stranger@nowhere.test")
    world.server.deliver(mailbox.email_address or "", raw)
    world.server.deliver(mailbox.email_address or "", unknown)
    report = world.cycle(mailbox)
    assert (report.status, report.fetched, report.tracked, report.not_tracked) == ("processed", 2, 1, 1)
    (email,) = _emails(world, mailbox.id)
    assert (email.message_id, email.subject, email.status, email.direction) == (
        f"<{mid}>",
        "Quote request",
        EmailStatus.RECEIVED,
        EmailDirection.INCOMING,
    )
    sender = email.parties[0]
    assert sender.party is not None and sender.party.type is EntityType.CONTACT
    assert email.accepting_entity == mailbox.owner
    assert email.owner == mailbox.owner
    assert email.description is not None and "Hi there" in email.description and email.body_blob is None
    assert _failures(world, mailbox.id) == {f"<{unknown_mid}>": "NoCorrelationMatch"}
    stored = world.store.get_mailbox(mailbox.id)
    assert stored.watermarks["INBOX"].last_uid == 2
    assert stored.items_processed_for_last_sync == 2 and stored.no_email_count == 0


def test_the_importance_the_sender_set_is_the_emails_priority(world: World) -> None:
    """R-REC-1: Outlook's Importance, or the X-Priority other clients write; none keeps the normal priority."""
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    marked = {
        "Urgent": {"Importance": "High", "X_Priority": "1"},
        "Whenever": {"X_Priority": "5 (Lowest)"},
        "Plain": {},
    }
    for subject, headers in marked.items():
        world.server.deliver(mailbox.email_address or "", message(mailbox.email_address or "", subject=subject,
                                                                  **headers)[0])  # fmt: skip

    world.cycle(mailbox)

    assert {e.subject: e.priority for e in _emails(world, mailbox.id)} == {
        "Urgent": Priority.HIGH,
        "Whenever": Priority.LOW,
        "Plain": Priority.NORMAL,
    }


def test_auto_submitted_and_reply_to_are_kept_with_the_email(world: World) -> None:
    """R-IN-12: no auto-reply detection of its own is asked of SSS; the headers customer logic needs are kept."""
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    raw, _ = message(mailbox.email_address or "", subject="Out of office", Auto_Submitted="auto-replied",
                     Reply_To="desk@fabrikam.test")  # fmt: skip
    world.server.deliver(mailbox.email_address or "", raw)

    world.cycle(mailbox)

    (email,) = _emails(world, mailbox.id)
    assert json.loads(email.internet_message_headers or "{}") == {
        "Auto-Submitted": "auto-replied",
        "Reply-To": "desk@fabrikam.test",
    }


def test_a_reply_to_tracked_mail_correlates_and_inherits_regarding(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.RESPONSES_TO_CRM_EMAIL)
    first, first_mid = message(mailbox.email_address or "", subject="Order 42")
    world.server.deliver(mailbox.email_address or "", first)
    helper = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    world.server.deliver(helper.email_address or "", first)  # tracked through a mailbox that takes all
    world.cycle(helper)
    original = world.store.emails.query("message_id eq @m", {"m": f"<{first_mid}>"})
    (tracked,) = list(original)
    reply, _ = message(mailbox.email_address or "", subject="RE: Order 42", In_Reply_To=f"<{first_mid}>")
    world.server.deliver(mailbox.email_address or "", reply)
    report = world.cycle(mailbox)
    assert report.reasons["CorrelationMatch"] == 1, report
    assert report.reasons["Duplicate"] == 1  # the first message was already tracked by the other mailbox
    (email,) = [e for e in _emails(world, mailbox.id) if e.subject == "RE: Order 42"]
    assert email.correlation_method is CorrelationMethod.IN_REPLY_TO
    assert email.correlated_activity_id == email.parent_activity_id == tracked.id


def test_pop3_mailbox_end_to_end_and_processed_uidls_are_skipped(world: World) -> None:
    mailbox = world.user_mailbox(world.pop3, FilteringMethod.ALL_EMAIL)
    for n in range(3):
        world.server.deliver(mailbox.email_address or "", message(mailbox.email_address or "", subject=f"m{n}")[0])
    report = world.cycle(mailbox)
    assert (report.status, report.tracked) == ("processed", 3)
    assert len(world.store.get_mailbox(mailbox.id).watermarks["INBOX"].processed_keys) == 3
    again = world.cycle(mailbox)
    assert (again.listed, again.fetched) == (0, 0)
    assert _inbox_count(world, mailbox.email_address or "") == 3  # a user mailbox never deletes


def test_an_idle_cycle_costs_at_most_three_table_transactions(world: World) -> None:
    """Read the mailbox, release the lease, move the due row (with the next claim's ticket)."""
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    world.server.deliver(mailbox.email_address or "", message(mailbox.email_address or "")[0])
    # A frozen monotonic clock, so a slow machine changes nothing: the settings cache lives a minute of it.
    now = utcnow()
    worker = world.worker(monotonic=lambda: 1000.0, clock=lambda: now)
    world.cycle(mailbox, worker)
    item = world.claim(mailbox, now)
    counter = world.store.account.counter
    before = counter.total("table")
    report = worker.run(item)
    assert (report.status, report.listed) == ("processed", 0)
    assert counter.total("table") - before <= 3


def test_crash_after_storing_before_the_watermark_tracks_each_message_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    mids = []
    for n in range(4):
        raw, mid = message(mailbox.email_address or "", subject=f"crash {n}")
        world.server.deliver(mailbox.email_address or "", raw)
        mids.append(mid)

    def die(*args: object, **kwargs: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(MailboxWorker, "_checkpoint", die)
        with pytest.raises(Killed):
            world.cycle(mailbox)
    assert world.store.get_mailbox(mailbox.id).watermarks.get("INBOX") is None  # nothing advanced
    report = world.cycle(mailbox)  # the lease is taken again, as after its expiry
    assert report.reasons["AlreadyProcessed"] == 4
    assert all(world.emails_with_message_id(f"<{mid}>") == 1 for mid in mids)


def test_crash_before_delete_keeps_mail_then_deletes_it_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL, queue=True, delete_after=True)
    address = mailbox.email_address or ""
    mids = []
    for n in range(3):
        raw, mid = message(address, subject=f"queue {n}")
        world.server.deliver(address, raw)
        mids.append(mid)

    def die(*args: object, **kwargs: object) -> None:
        raise Killed

    with monkeypatch.context() as patch, dying_process(world, patch), pytest.raises(Killed):
        patch.setattr(ImapSession, "delete", die)
        world.cycle(mailbox)
    assert _inbox_count(world, address) == 3  # stored and checkpointed, not yet deleted
    report = world.cycle(mailbox)
    assert report.deleted == 3
    assert _inbox_count(world, address) == 0
    assert all(world.emails_with_message_id(f"<{mid}>") == 1 for mid in mids)
    items = list(world.store.queue_items.partition(mailbox.owner.id if mailbox.owner else ""))
    assert len(items) == 3  # one queue item per email for the synchronizing queue, none doubled


def test_a_message_that_was_not_stored_is_never_deleted(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL, queue=True, delete_after=True)
    address = mailbox.email_address or ""
    for n in range(3):
        world.server.deliver(address, message(address, subject=f"keep {n}")[0])
    calls = {"n": 0}
    original = IncomingProcessor.process

    def die_on_second(self: IncomingProcessor, raw: bytes, received_on: object = None, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Killed
        return original(self, raw, received_on, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(IncomingProcessor, "process", die_on_second)
        with pytest.raises(Killed):
            world.cycle(mailbox)
    assert _inbox_count(world, address) == 3


def test_two_workers_running_the_same_work_item_make_no_duplicates(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    mids = []
    for n in range(6):
        raw, mid = message(mailbox.email_address or "", subject=f"race {n}")
        world.server.deliver(mailbox.email_address or "", raw)
        mids.append(mid)
    item = world.claim(mailbox)
    threads = [threading.Thread(target=world.worker().run, args=(item,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(world.emails_with_message_id(f"<{mid}>") == 1 for mid in mids)


def test_a_stale_work_item_does_nothing(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    world.server.deliver(mailbox.email_address or "", message(mailbox.email_address or "")[0])
    old = world.claim(mailbox)
    world.claim(mailbox)  # a newer claim holds the lease now
    assert world.worker().run(old).status == "stale"
    assert _emails(world, mailbox.id) == []


def test_wrong_password_disables_incoming_with_an_alert_and_others_go_on(world: World) -> None:
    broken = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL, password="wrong")
    healthy = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    world.server.deliver(healthy.email_address or "", message(healthy.email_address or "")[0])
    report = world.cycle(broken)
    assert report.status == "disabled"
    stored = world.store.get_mailbox(broken.id)
    assert not stored.enabled_for_incoming and stored.due_row_key is None
    (alert,) = list(world.store.alerts.partition(broken.id))
    assert "has been disabled for receiving email" in alert.text
    assert "credentials" in alert.text and "wrong" not in alert.text
    assert world.cycle(healthy).tracked == 1


def test_transient_errors_retry_then_disable_after_the_limit(world: World) -> None:
    dead = world.store.profiles.insert(
        EmailServerProfile(
            name="Nothing listens",
            server_type=ServerType.IMAP_SMTP,
            incoming_server_location="127.0.0.1",
            incoming_port=9,
            incoming_tls=TlsMode.NONE,
            allow_plaintext=True,
            timeout_mailbox_connection_after_ms=2000,
        )
    )
    mailbox = world.user_mailbox(dead, FilteringMethod.ALL_EMAIL)
    limit = world.settings.transient_retry_limit
    for attempt in range(1, limit):
        report = world.cycle(mailbox)
        assert report.status == "failed", attempt
        stored = world.store.get_mailbox(mailbox.id)
        assert stored.transient_failure_count == attempt and stored.enabled_for_incoming
        assert stored.receiving_postponed_until is not None
    (alert,) = list(world.store.alerts.partition(mailbox.id))
    assert "will try to receive email again later" in alert.text and alert.count == limit - 1
    assert world.cycle(mailbox).status == "disabled"
    assert not world.store.get_mailbox(mailbox.id).enabled_for_incoming


def test_too_large_messages_are_recorded_without_fetching(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    world.server.deliver(mailbox.email_address or "", message(mailbox.email_address or "", body="x" * 20_000)[0])
    small = world.settings.model_copy(update={"max_incoming_email_bytes": 5_000})

    report = world.cycle(mailbox, MailboxWorker(world.store, small, world.box, incoming_connectors()))
    assert report.reasons["TooLarge"] == 1 and report.fetched == 0
    assert list(_failures(world, mailbox.id).values()) == ["TooLarge"]
    assert world.store.get_mailbox(mailbox.id).watermarks["INBOX"].last_uid == 1


def test_the_same_message_in_two_mailboxes_is_one_email(world: World) -> None:
    first = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    queue = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL, queue=True)
    raw, mid = message(f"{first.email_address}, {queue.email_address}")
    world.server.deliver(first.email_address or "", raw)
    world.server.deliver(queue.email_address or "", raw)
    assert world.cycle(first).tracked == 1
    report = world.cycle(queue)
    assert report.reasons["Duplicate"] == 1
    assert world.emails_with_message_id(f"<{mid}>") == 1
    (email,) = list(world.store.emails.query("message_id eq @m", {"m": f"<{mid}>"}))
    assert email.mailbox_ids == [first.id, queue.id]
    queue_items = list(world.store.queue_items.partition(queue.owner.id if queue.owner else ""))
    assert len(queue_items) == 1  # the queue was a recipient of the tracked email


def test_forward_mailbox_tracks_the_attached_message(world: World) -> None:

    user_box = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    user_box = world.store.get_mailbox(user_box.id)
    user_box.incoming_method = IncomingDeliveryMethod.FORWARD_MAILBOX
    world.store.mailboxes.update(user_box)
    collector_address = f"fwd-{user_box.id[:8]}@example.test"
    world.server.add_user(collector_address, MAIL_PASSWORD)
    collector = Provisioning(world.store).create_forward_mailbox("Collector", collector_address, world.imap.id)
    collector = world.store.get_mailbox(collector.id)

    collector.approval = EmailAddressApproval.APPROVED
    collector.allow_credentials_for_email_processing = True
    collector.username = collector_address
    seal_field(world.box, collector, "password", MAIL_PASSWORD)
    world.store.mailboxes.update(collector)
    schedule_now(world.store, collector.id)

    original, original_mid = message(user_box.email_address or "", subject="Original")
    wrapper = EmailMessage()
    wrapper["From"] = user_box.email_address
    wrapper["To"] = collector_address
    wrapper["Subject"] = "FW: Original"
    wrapper["Message-ID"] = make_msgid(domain="example.test")
    wrapper.set_content("forwarded as attachment")
    wrapper.add_attachment(original, maintype="message", subtype="rfc822")
    plain = EmailMessage()
    plain["From"] = user_box.email_address
    plain["To"] = collector_address
    plain["Subject"] = "FW: inline"
    plain["Message-ID"] = make_msgid(domain="example.test")
    plain.set_content("forwarded inline, not as an attachment")
    world.server.deliver(collector_address, wrapper.as_bytes())
    world.server.deliver(collector_address, plain.as_bytes())
    report = world.cycle(collector)
    assert report.tracked == 1 and report.reasons["InvalidForwardMailItem"] == 1
    (email,) = list(world.store.emails.query("message_id eq @m", {"m": f"<{original_mid}>"}))
    assert email.subject == "Original" and email.accepting_entity == user_box.owner


def test_a_bounce_that_matches_nothing_is_not_tracked(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    bounce = EmailMessage()
    bounce["From"] = "MAILER-DAEMON@mx.example.test"
    bounce["To"] = mailbox.email_address
    bounce["Subject"] = "Undeliverable: hello"
    bounce["Message-ID"] = make_msgid(domain="mx.example.test")
    bounce.set_content("delivery failed")
    world.server.deliver(mailbox.email_address or "", bounce.as_bytes())
    report = world.cycle(mailbox)
    assert report.reasons["BounceNotCorrelated"] == 1 and report.tracked == 0


def test_a_connection_dropped_mid_fetch_keeps_progress(world: World, monkeypatch: pytest.MonkeyPatch) -> None:

    proxy = FlakyProxy("127.0.0.1", world.server.imap_port).start()
    try:
        profile = world.store.profiles.insert(
            EmailServerProfile(
                name="Flaky",
                server_type=ServerType.IMAP_SMTP,
                incoming_server_location="127.0.0.1",
                incoming_port=proxy.port,
                incoming_tls=TlsMode.NONE,
                allow_plaintext=True,
                timeout_mailbox_connection_after_ms=5000,
            )
        )
        mailbox = world.user_mailbox(profile, FilteringMethod.ALL_EMAIL)
        mids = []
        for n in range(3):
            raw, mid = message(mailbox.email_address or "", subject=f"flaky {n}", body="y" * 4000)
            world.server.deliver(mailbox.email_address or "", raw)
            mids.append(mid)
        original = ImapSession.fetch

        def cut_after_first(self: ImapSession, remote: object) -> bytes:
            raw = original(self, remote)  # type: ignore[arg-type]
            proxy.cut_after(200)  # the next FETCH answer is cut 200 bytes in
            return raw

        with monkeypatch.context() as patch:
            patch.setattr(ImapSession, "fetch", cut_after_first)
            report = world.cycle(mailbox)
        assert report.status == "failed" and report.tracked == 1
        stored = world.store.get_mailbox(mailbox.id)
        assert stored.watermarks["INBOX"].last_uid == 1 and stored.transient_failure_count == 1
        report = world.cycle(mailbox)
        assert (report.status, report.tracked) == ("processed", 2)
        assert all(world.emails_with_message_id(f"<{mid}>") == 1 for mid in mids)
        assert world.store.get_mailbox(mailbox.id).transient_failure_count == 0
    finally:
        proxy.stop()


def test_a_message_that_breaks_processing_is_quarantined_then_replayed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:

    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    bad, bad_mid = message(mailbox.email_address or "", subject="breaks the pipeline")
    good, good_mid = message(mailbox.email_address or "", subject="fine")
    world.server.deliver(mailbox.email_address or "", bad)
    world.server.deliver(mailbox.email_address or "", good)
    original = IncomingProcessor._build_email

    def fail_once(self: IncomingProcessor, parsed: object, *args: object) -> object:
        if getattr(parsed, "subject", "") == "breaks the pipeline":
            raise RuntimeError("a bug in the pipeline")
        return original(self, parsed, *args)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(IncomingProcessor, "_build_email", fail_once)
        report = world.cycle(mailbox)
    assert (report.reasons["RetryPending"], report.tracked, report.status) == (1, 1, "processed")  # it went on
    (failure,) = [f for f in world.store.item_failures.partition(mailbox.id) if f.reason == "RetryPending"]
    assert failure.details is not None and "a bug in the pipeline" in failure.details
    results = replay_quarantine(world.store, world.settings, mailbox.id)
    assert [(r.outcome, r.released) for r in results] == [("AcceptAll", True)]
    assert world.emails_with_message_id(f"<{bad_mid}>") == 1
    assert world.emails_with_message_id(f"<{good_mid}>") == 1
    assert list(world.store.item_failures.partition(mailbox.id)) == []


def test_an_unknown_sender_becomes_a_contact_when_the_owner_asks(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    owner_id = mailbox.owner.id if mailbox.owner else ""
    user = world.store.get_user(owner_id)
    user.auto_create_records = True
    RecordService(world.store).update(user)
    sender = f"new-{owner_id[:8]}@prospect.test"
    raw, mid = message(mailbox.email_address or "", sender=sender)
    world.server.deliver(mailbox.email_address or "", raw)
    assert world.cycle(mailbox).tracked == 1
    (match,) = world.store.address_index.lookup(sender)
    assert match.type is EntityType.CONTACT and match.owner_user_id == owner_id
    (email,) = list(world.store.emails.query("message_id eq @m", {"m": f"<{mid}>"}))
    assert email.parties[0].party is not None and email.parties[0].party.id == match.id


def test_a_sender_no_record_may_hold_is_tracked_without_a_contact(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    owner_id = mailbox.owner.id if mailbox.owner else ""
    user = world.store.get_user(owner_id)
    user.auto_create_records = True
    RecordService(world.store).update(user)
    sender = f"new..{owner_id[:8]}@prospect.test"  # kept by the lenient parser, not a mailbox a record holds
    raw, mid = message(mailbox.email_address or "", sender=sender)
    world.server.deliver(mailbox.email_address or "", raw)
    report = world.cycle(mailbox)
    assert (report.tracked, report.quarantined) == (1, 0)
    assert world.emails_with_message_id(f"<{mid}>") == 1
    assert world.store.address_index.lookup(sender) == []


def test_mail_received_before_the_start_date_is_skipped(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    old, old_mid = message(mailbox.email_address or "", Date="Mon, 01 Jan 2024 10:00:00 +0000")
    world.server.deliver(mailbox.email_address or "", old)
    stored = world.store.get_mailbox(mailbox.id)
    stored.process_email_received_after = utcnow() + timedelta(days=1)  # INTERNALDATE (now) is before it too
    world.store.mailboxes.update(stored)
    report = world.cycle(mailbox)
    assert report.reasons["BeforeStartDate"] == 1 and report.tracked == 0
    assert world.emails_with_message_id(f"<{old_mid}>") == 0


def test_expired_item_failures_are_purged(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.RESPONSES_TO_CRM_EMAIL)
    world.store.item_failures.upsert(
        ItemFailure(
            mailbox_id=mailbox.id,
            message_key="mid:old@x",
            reason="NoCorrelationMatch",
            expires_on=utcnow() - timedelta(minutes=1),
        )
    )
    world.server.deliver(mailbox.email_address or "", message(mailbox.email_address or "")[0])
    world.cycle(mailbox)
    keys = {f.message_key for f in world.store.item_failures.partition(mailbox.id)}
    assert "mid:old@x" not in keys and len(keys) == 1


def test_smart_matching_correlates_a_reply_without_headers(world: World) -> None:
    org = world.store.get_organization()
    org.enable_smart_matching = True
    world.store.organization.upsert(org)
    try:
        replies = world.user_mailbox(world.imap, FilteringMethod.RESPONSES_TO_CRM_EMAIL)
        helper = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
        first, first_mid = message(f"{replies.email_address}, {helper.email_address}", subject="Pricing for Contoso")
        world.server.deliver(helper.email_address or "", first)
        world.cycle(helper)
        reply, reply_mid = message(replies.email_address or "", subject="RE: Pricing for Contoso")
        world.server.deliver(replies.email_address or "", reply)
        report = world.cycle(replies)
        assert report.reasons["CorrelationMatch"] == 1
        (email,) = list(world.store.emails.query("message_id eq @m", {"m": f"<{reply_mid}>"}))
        (original,) = list(world.store.emails.query("message_id eq @m", {"m": f"<{first_mid}>"}))
        assert email.correlation_method is CorrelationMethod.SMART_MATCHING
        assert email.correlated_activity_id == original.id and email.parent_activity_id is None
    finally:
        org = world.store.get_organization()
        org.enable_smart_matching = False
        world.store.organization.upsert(org)
