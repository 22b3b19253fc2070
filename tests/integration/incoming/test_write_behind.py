"""A cycle's email writes overlap (WriteBehind) while decisions, the watermark and exactly-once stay as before.

Against the real mail servers and Azurite. The faults are deterministic: a write waits on an event another
message's write or decision sets, or the process "dies" (:class:`Killed`) inside one write while others are
in flight; nothing depends on timing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from sync.incoming import worker as worker_module
from sync.incoming.processor import IncomingProcessor
from sync.model import Email
from sync.model.options import CorrelationMethod, FilteringMethod
from tests.integration.incoming.conftest import Killed, World, message

pytestmark = pytest.mark.integration

PATIENCE_S = 30  # how long a write waits for an event that the overlap must set (never reached when it works)


def _emails(world: World, mailbox_id: str) -> list[Email]:
    return list(world.store.emails.query("receiving_mailbox_id eq @m", {"m": mailbox_id}))


def _hook_insert(
    world: World,
    patch: pytest.MonkeyPatch,
    before: Callable[[Email], None],
    after: Callable[[Email], None] | None = None,
) -> None:
    """Runs ``before`` and ``after`` around each email insert, which still goes to the real store."""
    real = world.store.emails.insert

    def insert(email: Email, *args: Any, **kwargs: Any) -> Email:
        before(email)
        stored = real(email, *args, **kwargs)
        if after is not None:
            after(email)
        return stored

    patch.setattr(world.store.emails, "insert", insert)


def test_the_writes_of_several_messages_are_in_flight_at_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    for n in range(3):
        world.server.deliver(address, message(address, subject=f"overlap {n}")[0])
    second_started = threading.Event()
    waited: list[bool] = []

    def before(email: Email) -> None:
        if email.subject == "overlap 1":
            second_started.set()
        if email.subject == "overlap 0":  # one at a time, the second write could not start before this one ends
            waited.append(second_started.wait(PATIENCE_S))

    with monkeypatch.context() as patch:
        _hook_insert(world, patch, before)
        report = world.cycle(mailbox)
    assert waited == [True]
    assert report.tracked == 3


def test_a_reply_decided_while_its_original_is_being_written_still_correlates(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    original, original_mid = message(address, subject="Order 77")
    reply, _ = message(address, subject="RE: Order 77", In_Reply_To=f"<{original_mid}>")
    world.server.deliver(address, original)
    world.server.deliver(address, reply)
    reply_decided = threading.Event()
    real_decide = IncomingProcessor.decide

    def decide(self: IncomingProcessor, parsed: Any, *args: Any, **kwargs: Any) -> Any:
        decision = real_decide(self, parsed, *args, **kwargs)
        if parsed.subject == "RE: Order 77":
            reply_decided.set()  # the original's row is not stored yet: this decision cannot have seen it
        return decision

    def before(email: Email) -> None:
        if email.subject == "Order 77":
            reply_decided.wait(PATIENCE_S)

    with monkeypatch.context() as patch:
        patch.setattr(IncomingProcessor, "decide", decide)
        _hook_insert(world, patch, before)
        report = world.cycle(mailbox)
    assert report.tracked == 2
    emails = {e.subject: e for e in _emails(world, mailbox.id)}
    answer = emails["RE: Order 77"]
    assert answer.correlation_method is CorrelationMethod.IN_REPLY_TO  # decided again once the original was stored
    assert answer.parent_activity_id == emails["Order 77"].id


def test_a_crash_with_writes_in_flight_never_checkpoints_past_an_unstored_message(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    mids = []
    for n in range(4):
        raw, mid = message(address, subject=f"inflight {n}")
        world.server.deliver(address, raw)
        mids.append(mid)
    second_stored = threading.Event()

    def before(email: Email) -> None:
        if email.subject == "inflight 0":  # dies once the next message is stored and its checkpoint is due
            second_stored.wait(PATIENCE_S)
            raise Killed

    def after_second(email: Email) -> None:
        if email.subject == "inflight 1":
            second_stored.set()

    with monkeypatch.context() as patch:
        patch.setattr(worker_module, "CHECKPOINT_EVERY", 2)  # a checkpoint falls due with the first write in flight
        _hook_insert(world, patch, before, after_second)
        with pytest.raises(Killed):
            world.cycle(mailbox)
    watermark = world.store.get_mailbox(mailbox.id).watermarks.get("INBOX")
    assert watermark is None  # the checkpoint waited for the first message's write, which never finished
    report = world.cycle(mailbox)  # the lease is taken again, as after its expiry
    # the second message was stored before the crash; the checkpoint does not wait, so the last two may have
    # been decided and stored too before the crash surfaced: replays either way, never second emails
    assert report.reasons["AlreadyProcessed"] >= 1
    assert report.tracked + report.reasons["AlreadyProcessed"] == 4
    assert [world.emails_with_message_id(f"<{mid}>") for mid in mids] == [1, 1, 1, 1]


def test_the_attachments_of_an_email_are_uploaded_together_before_its_row(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Carol <carol@fabrikam.test>", address, "Three files"
    msg["Message-ID"] = make_msgid(domain="fabrikam.test")
    msg.set_content("see attached")
    for n in range(3):
        msg.add_attachment(f"file {n}".encode() * 100, maintype="application", subtype="octet-stream",
                           filename=f"f{n}.bin")  # fmt: skip
    world.server.deliver(address, msg.as_bytes())
    real_put = world.store.blobs.put
    second_started = threading.Event()
    waited: list[bool] = []
    stored_before_row: list[bool] = []

    def put(container: Any, name: str, data: bytes, *args: Any) -> Any:
        if name.endswith("2-f1.bin"):
            second_started.set()
        if name.endswith("1-f0.bin"):  # one after the other, the second upload could not start first
            waited.append(second_started.wait(PATIENCE_S))
        return real_put(container, name, data, *args)

    def before(email: Email) -> None:
        stored_before_row.append(all(a.blob is not None for a in email.attachments))

    with monkeypatch.context() as patch:
        patch.setattr(world.store.blobs, "put", put)
        _hook_insert(world, patch, before)
        report = world.cycle(mailbox)
    assert report.tracked == 1 and waited == [True] and stored_before_row == [True]
    (email,) = _emails(world, mailbox.id)
    contents = [world.store.blobs.get(a.blob) for a in email.attachments if a.blob is not None]
    assert contents == [f"file {n}".encode() * 100 for n in range(3)]


def test_the_next_message_is_decided_while_an_email_s_attachments_are_uploaded(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Carol <carol@fabrikam.test>", address, "With a file"
    msg["Message-ID"] = make_msgid(domain="fabrikam.test")
    msg.set_content("see attached")
    msg.add_attachment(b"contract" * 100, maintype="application", subtype="pdf", filename="contract.pdf")
    world.server.deliver(address, msg.as_bytes())
    world.server.deliver(address, message(address, subject="Next one")[0])
    next_decided = threading.Event()
    waited: list[bool] = []
    blobs_stored_before_row: list[bool] = []
    real_put, real_decide = world.store.blobs.put, IncomingProcessor.decide

    def put(container: Any, name: str, data: bytes, *args: Any) -> Any:
        if name.endswith("contract.pdf"):  # in the decision step, the next message could not be decided first
            waited.append(next_decided.wait(PATIENCE_S))
        return real_put(container, name, data, *args)

    def decide(self: IncomingProcessor, parsed: Any, *args: Any, **kwargs: Any) -> Any:
        decision = real_decide(self, parsed, *args, **kwargs)
        if parsed.subject == "Next one":
            next_decided.set()
        return decision

    def before(email: Email) -> None:
        if email.attachments:  # the blob is in storage (not only named) when the row is written
            contents = [world.store.blobs.get(a.blob) for a in email.attachments if a.blob is not None]
            blobs_stored_before_row.append(contents == [b"contract" * 100])

    with monkeypatch.context() as patch:
        patch.setattr(world.store.blobs, "put", put)
        patch.setattr(IncomingProcessor, "decide", decide)
        _hook_insert(world, patch, before)
        report = world.cycle(mailbox)
    assert waited == [True]
    assert blobs_stored_before_row == [True]
    assert report.tracked == 2


def test_a_failed_attachment_upload_stores_no_row_and_the_message_is_tried_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Carol <carol@fabrikam.test>", address, "Upload fails"
    mid = make_msgid(domain="fabrikam.test")
    msg["Message-ID"] = mid
    msg.set_content("see attached")
    msg.add_attachment(b"data" * 100, maintype="application", subtype="pdf", filename="broken.pdf")
    world.server.deliver(address, msg.as_bytes())
    world.server.deliver(address, message(address, subject="Fine")[0])
    real_put = world.store.blobs.put

    def put(container: Any, name: str, data: bytes, *args: Any) -> Any:
        if name.endswith("broken.pdf"):
            raise OSError("the blob service failed")
        return real_put(container, name, data, *args)

    with monkeypatch.context() as patch:
        patch.setattr(world.store.blobs, "put", put)
        report = world.cycle(mailbox)
    assert (report.tracked, report.reasons["RetryPending"]) == (1, 1)
    assert world.emails_with_message_id(mid) == 0  # no row that points at a blob that is not there
    (failure,) = [f for f in world.store.item_failures.partition(mailbox.id) if f.reason == "RetryPending"]
    assert failure.details is not None and "the blob service failed" in failure.details


def test_a_checkpoint_does_not_wait_for_the_writes_in_flight_and_covers_only_the_stored_messages(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    for n in range(4):
        world.server.deliver(address, message(address, subject=f"checkpoint {n}")[0])
    third_decided = threading.Event()
    waited: list[bool] = []
    checkpoints: list[tuple[int | None, list[str]]] = []  # (watermark's last UID, subjects stored) at each save
    real_decide, real_checkpoint = IncomingProcessor.decide, worker_module.MailboxWorker._checkpoint

    def decide(self: IncomingProcessor, parsed: Any, *args: Any, **kwargs: Any) -> Any:
        decision = real_decide(self, parsed, *args, **kwargs)
        if parsed.subject == "checkpoint 2":
            third_decided.set()
        return decision

    def before(email: Email) -> None:
        if email.subject == "checkpoint 0":  # a checkpoint that waited for this write could not get past 1
            waited.append(third_decided.wait(PATIENCE_S))

    def checkpoint(self: Any, item: Any, box: Any, key: str, watermark: Any, *args: Any, **kwargs: Any) -> Any:
        stored = sorted(e.subject for e in _emails(world, mailbox.id))
        checkpoints.append((watermark.last_uid, stored))
        return real_checkpoint(self, item, box, key, watermark, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(worker_module, "CHECKPOINT_EVERY", 2)  # due after the second message, the first in flight
        patch.setattr(IncomingProcessor, "decide", decide)
        patch.setattr(worker_module.MailboxWorker, "_checkpoint", checkpoint)
        _hook_insert(world, patch, before)
        report = world.cycle(mailbox)
    assert waited == [True]
    assert report.tracked == 4
    last = checkpoints[-1][0]
    assert last is not None  # the folder's last checkpoint covers the four (UIDs given in delivery order)
    for uid, stored in checkpoints:  # no checkpoint covers a message whose email was not stored before it
        covered = 0 if uid is None else uid - (last - 3)
        assert [f"checkpoint {n}" for n in range(covered)] == [s for s in stored if s < f"checkpoint {covered}"]
