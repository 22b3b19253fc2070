"""R-SCH-10: concurrent workers (each its own instance) never hold more incoming connections to one server than
the profile allows; the workers left out wait for a slot without a failure (real Dovecot, real Azurite)."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from devstack import Dovecot, TestCA
from sync.auth.secrets import SecretBox, seal_field
from sync.incoming.connection_limit import ConnectionLimitReached, IncomingConnectionLimit, LimitedInboxSession
from sync.incoming.worker import CycleReport, MailboxWorker
from sync.mail.imap import ImapConnector
from sync.mail.port import ConnectionSettings, ExchangeSession, IncomingSession, RemoteMessage
from sync.mailboxes.credentials import incoming_connection
from sync.mailboxes.provisioning import Provisioning
from sync.model import EmailServerProfile, Mailbox, Queue
from sync.model.mailbox import FolderWatermark
from sync.model.options import CredentialRetrieval, EmailAddressApproval, ServerType
from sync.model.profile import TlsMode
from sync.push.wake import Waker
from sync.scheduling.act_scheduler import ActScheduler
from sync.scheduling.scheduler import Scheduler, schedule_now
from sync.scheduling.work import WorkItem
from sync.settings import Settings
from sync.store import Store
from sync.store.keys import safe_key
from sync.store.names import Table
from sync.store.slot_turns import KEPT_PREFIX
from sync.store.slots import SLOT_LEASE, ConnectionSlots
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration

WORKERS = 4
LIMIT = 2
WAIT_SECONDS = 60.0  # only a guard against a hang: the gate opens as soon as every worker has its answer


@dataclass
class Gate:
    """The real IMAP connector, counting the sessions open on Dovecot; an opened session is held until every
    worker either opened one or was refused, so the sessions that can overlap do overlap."""

    real: ImapConnector = field(default_factory=ImapConnector)
    changed: threading.Condition = field(default_factory=threading.Condition)
    live: int = 0
    peak: int = 0
    opened: int = 0
    refused: int = 0

    def open(self, settings: ConnectionSettings) -> IncomingSession:
        session = self.real.open(settings)
        with self.changed:
            self.live += 1
            self.opened += 1
            self.peak = max(self.peak, self.live)
            self.changed.notify_all()
            self.changed.wait_for(lambda: self.opened + self.refused >= WORKERS, timeout=WAIT_SECONDS)
        return _Counted(session, self)

    def answered(self, report: CycleReport) -> None:
        with self.changed:
            if report.status == "throttled":
                self.refused += 1
                self.changed.notify_all()


@dataclass
class _Counted:
    session: IncomingSession
    gate: Gate

    def list_new(self, watermark: FolderWatermark, processed_keys: frozenset[str]) -> list[RemoteMessage]:
        return self.session.list_new(watermark, processed_keys)

    def fetch(self, message: RemoteMessage) -> bytes:
        return self.session.fetch(message)

    def delete(self, messages: list[RemoteMessage]) -> None:
        self.session.delete(messages)

    def advance(self, watermark: FolderWatermark, message: RemoteMessage) -> FolderWatermark:
        return self.session.advance(watermark, message)

    def close(self) -> None:
        self.session.close()
        with self.gate.changed:
            self.gate.live -= 1


def _profile(store: Store, box: SecretBox, dovecot: Dovecot) -> EmailServerProfile:
    """A profile whose own credentials every mailbox uses: its connections are counted together (N-12)."""
    account = f"shared-{uuid.uuid4().hex[:10]}@example.test"
    dovecot.add_user(account, MAIL_PASSWORD)
    profile = EmailServerProfile(
        name=f"Limited IMAP {uuid.uuid4().hex[:6]}",
        server_type=ServerType.IMAP_SMTP,
        incoming_server_location="localhost",
        incoming_port=dovecot.imaps_port,
        incoming_tls=TlsMode.IMPLICIT,
        incoming_credential_retrieval=CredentialRetrieval.EMAIL_SERVER_PROFILE,
        incoming_username=account,
        max_concurrent_connections=LIMIT,
        timeout_mailbox_connection_after_ms=5000,
    )
    seal_field(box, profile, "incoming_password", MAIL_PASSWORD)
    return store.profiles.insert(profile)


def _queue_mailbox(store: Store, profile: EmailServerProfile) -> Mailbox:
    address = f"q-{uuid.uuid4().hex[:10]}@example.test"
    _, mailbox = Provisioning(store).create_queue(Queue(name=f"Queue {address}", email_address=address))
    mailbox = store.get_mailbox(mailbox.id)
    mailbox.email_server_profile_id = profile.id
    mailbox.approval = EmailAddressApproval.APPROVED
    store.mailboxes.update(mailbox)
    return schedule_now(store, mailbox.id)


def test_r_sch_10_concurrent_workers_never_open_more_incoming_connections_than_the_profile_allows(
    isolated_store: Store, settings: Settings, dovecot: Dovecot, test_ca: TestCA
) -> None:
    own = settings.model_copy(update={"extra_ca_file": str(test_ca.ca_cert)})
    box = SecretBox(own.aes_key())
    profile = _profile(isolated_store, box, dovecot)
    mailboxes = [_queue_mailbox(isolated_store, profile) for _ in range(WORKERS)]
    scheduler = Scheduler(isolated_store, own, lambda item: None)
    items = [scheduler.claim(isolated_store.get_mailbox(m.id), profile) for m in mailboxes]
    gate = Gate()
    reports: list[CycleReport] = []

    def instance(index: int) -> None:  # each worker as its own instance of the app: nothing shared but storage
        worker = MailboxWorker(isolated_store, own, box, {ServerType.IMAP_SMTP: gate})
        report = worker.run(items[index])
        reports.append(report)
        gate.answered(report)

    threads = [threading.Thread(target=instance, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * WAIT_SECONDS)

    assert (gate.peak, gate.opened) == (LIMIT, LIMIT)  # without the limit: 4 sessions at once
    assert sorted(r.status for r in reports) == ["processed"] * LIMIT + ["throttled"] * (WORKERS - LIMIT)
    for report in reports:
        mailbox = isolated_store.get_mailbox(report.mailbox_id)
        assert mailbox.host_id is None  # the lease is released either way
        if report.status == "throttled":
            assert report.error and report.error.startswith("ConnectionLimitReached")
            assert mailbox.transient_failure_count == 0  # waiting for a slot is not a failure of the mailbox
            assert list(isolated_store.alerts.query("mailbox_id eq @m", {"m": mailbox.id})) == []
    slots = isolated_store.account.table(Table.CONNECTION_SLOTS)
    scope = safe_key(f"incoming:profile:{profile.id}")
    rows = list(slots.query_entities("PartitionKey eq @pk", parameters={"pk": scope}))
    refused = sorted(r.mailbox_id for r in reports if r.status == "throttled")
    # the slots given back are kept for the refused mailboxes, whose turn it is; no other row is left
    assert sorted(str(r["holder"]).removeprefix(KEPT_PREFIX) for r in rows) == refused


def test_r_sch_10_a_session_whose_slot_lease_ran_out_stops_using_its_connection(
    isolated_store: Store, settings: Settings, dovecot: Dovecot, test_ca: TestCA
) -> None:
    """A holder that could not renew in time (storage down, a stalled process) may have lost its slot to another
    instance: it must not use the connection any more, or the limit would be exceeded."""
    own = settings.model_copy(update={"extra_ca_file": str(test_ca.ca_cert)})
    box = SecretBox(own.aes_key())
    profile = _profile(isolated_store, box, dovecot)
    mailbox = _queue_mailbox(isolated_store, profile)
    now = [datetime.now(UTC)]
    slots = ConnectionSlots(isolated_store.account.table(Table.CONNECTION_SLOTS), clock=lambda: now[0])
    limit = IncomingConnectionLimit(slots, hold_seconds=0)  # no renewal: the lease runs out by the injected clock
    endpoint = incoming_connection(mailbox, profile, box, own.extra_ca_file)
    session = limit.open(mailbox, profile, lambda: ImapConnector().open(endpoint))
    assert isinstance(session, LimitedInboxSession)
    assert session.list_new(FolderWatermark(folder="INBOX"), frozenset()) == []

    now[0] += SLOT_LEASE
    with pytest.raises(ConnectionLimitReached):
        session.list_new(FolderWatermark(folder="INBOX"), frozenset())
    session.close()


def _deliver(dovecot: Dovecot, profile: EmailServerProfile, subject: str) -> None:
    raw = (f"From: Someone <someone-{uuid.uuid4().hex[:6]}@example.org>\r\nTo: {profile.incoming_username}\r\n"
           f"Subject: {subject}\r\nMessage-ID: <{uuid.uuid4().hex}@example.org>\r\n\r\nbody\r\n")  # fmt: skip
    dovecot.deliver(str(profile.incoming_username), raw.encode())


def test_r_sch_10_a_mailbox_refused_a_slot_is_woken_when_one_is_given_back_and_its_cycle_takes_it(
    isolated_store: Store, settings: Settings, dovecot: Dovecot, test_ca: TestCA
) -> None:
    """The refused mailbox does not wait for its retry a minute later (when it raced every other due mailbox):
    the session that gives a slot back keeps it for the mailbox and wakes it; its cycle then reads its mail."""
    own = settings.model_copy(update={"extra_ca_file": str(test_ca.ca_cert)})
    box = SecretBox(own.aes_key())
    profile = _profile(isolated_store, box, dovecot)
    holders = [_queue_mailbox(isolated_store, profile) for _ in range(LIMIT)]
    waiting, newcomer = _queue_mailbox(isolated_store, profile), _queue_mailbox(isolated_store, profile)
    _deliver(dovecot, profile, "read once the mailbox's turn came")
    woken: list[str] = []
    table = isolated_store.account.table(Table.CONNECTION_SLOTS)
    limit = IncomingConnectionLimit(ConnectionSlots(table), hold_seconds=0, wake=woken.append)

    def open_for(mailbox: Mailbox) -> IncomingSession | ExchangeSession:
        endpoint = incoming_connection(mailbox, profile, box, own.extra_ca_file)
        return limit.open(mailbox, profile, lambda: ImapConnector().open(endpoint))

    held = [open_for(m) for m in holders]
    scheduler = Scheduler(isolated_store, own, lambda item: None)
    worker = MailboxWorker(isolated_store, own, box, {ServerType.IMAP_SMTP: ImapConnector()}, rewake=woken.append)

    refused = worker.run(scheduler.claim(isolated_store.get_mailbox(waiting.id), profile))
    assert refused.status == "throttled"
    assert woken == []
    held.pop().close()
    assert woken == [waiting.id]  # at once, by the session that gave its slot back

    late = worker.run(scheduler.claim(isolated_store.get_mailbox(newcomer.id), profile))
    assert late.status == "throttled"  # the free slot is kept for the waiting mailbox
    turn = worker.run(scheduler.claim(isolated_store.get_mailbox(waiting.id), profile))
    assert (turn.status, turn.tracked + turn.not_tracked) == ("processed", 1)
    assert woken == [waiting.id, newcomer.id]  # its cycle's end handed the slot on to the next in line
    for session in held:
        session.close()


def test_r_sch_10_a_mailbox_woken_while_its_refused_cycle_ends_comes_back_at_once(
    isolated_store: Store, settings: Settings, dovecot: Dovecot, test_ca: TestCA
) -> None:
    """The slot is handed over between the refusal and the end of the refused cycle: the wake finds the
    mailbox still leased and can only mark it (as a change notification does). The cycle's end then makes it
    due at once and wakes it again, instead of leaving the kept slot idle until its retry."""
    own = settings.model_copy(update={"extra_ca_file": str(test_ca.ca_cert)})
    box = SecretBox(own.aes_key())
    profile = _profile(isolated_store, box, dovecot)
    holder, waiting = _queue_mailbox(isolated_store, profile), _queue_mailbox(isolated_store, profile)
    profile.max_concurrent_connections = 1
    isolated_store.profiles.update(profile)
    claimed: list[WorkItem] = []
    waker = Waker(isolated_store, Scheduler(isolated_store, own, claimed.append),
                  ActScheduler(isolated_store, own, lambda item: None))  # fmt: skip
    table = isolated_store.account.table(Table.CONNECTION_SLOTS)
    outside = IncomingConnectionLimit(
        ConnectionSlots(table), hold_seconds=0, wake=lambda m: waker.wake(m, "incoming", datetime.now(UTC))
    )
    session = outside.open(holder, profile, lambda: ImapConnector().open(
        incoming_connection(holder, profile, box, own.extra_ca_file)))  # fmt: skip
    answers: list[str] = []

    class GiveBackRightAfterTheRefusal(IncomingConnectionLimit):
        def open(self, mailbox: Mailbox, profile: EmailServerProfile, opener: Any) -> Any:
            try:
                return super().open(mailbox, profile, opener)
            except ConnectionLimitReached:
                session.close()  # the holder gives its slot back now: kept for us, and the wake only marks us
                answers.append("refused")
                raise

    rewoken: list[str] = []
    limit = GiveBackRightAfterTheRefusal(ConnectionSlots(table), hold_seconds=0, wake=rewoken.append)
    worker = MailboxWorker(isolated_store, own, box, {ServerType.IMAP_SMTP: ImapConnector()},
                           connection_limit=limit, rewake=rewoken.append)  # fmt: skip
    report = worker.run(Scheduler(isolated_store, own, lambda item: None).claim(
        isolated_store.get_mailbox(waiting.id), profile))  # fmt: skip

    assert (report.status, answers, claimed) == ("throttled", ["refused"], [])  # the wake found it running
    assert rewoken == [waiting.id]  # the cycle's end woke it instead
    after = isolated_store.get_mailbox(waiting.id)
    assert after.postpone_mailbox_processing_until is not None
    assert after.postpone_mailbox_processing_until <= datetime.now(UTC)  # due now, not after the retry delay
    turn = worker.run(Scheduler(isolated_store, own, lambda item: None).claim(after, profile))
    assert turn.status == "processed"  # the kept slot was its own
