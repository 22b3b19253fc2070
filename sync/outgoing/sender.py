"""The queue-triggered sender: one ``outgoing-mail`` message, one email, sent at most once.

For a Pending Send email whose time has come (send-later, back-off) and whose sending mailbox is
eligible (R-OUT-3; otherwise it stays Pending Send with an alert), one attempt is:

1. compose (pure) and take a connection from the pool (opened, secured and authenticated if none is idle);
   failures here are the mailbox's (wrong password, server down): the email is only deferred;
2. MAIL FROM and RCPT TO for the recipients still pending;
3. **claim**: Pending Send -> Sending with a new attempt id, a lease and ``deliveryattempts + 1``, one
   ETag compare-and-swap on the email row. Nothing has been handed over yet: a sender that loses the
   race sends RSET and stops; there is never a second DATA for the same email;
4. DATA and the message; the server's answer to the final ``.`` decides per recipient;
5. **confirm**: one write of the outcome (Sent with sent-on, a retry with back-off, Failed), guarded by
   the attempt id; alerts; a retry re-enqueues itself.

The guarantee and its limits are written down in ``docs/outgoing.md``: duplicate messages, concurrent
senders and crashes before the claim never send twice; a crash, or a lost answer, after the claim
leaves the email Failed with a DeliveryStatusUnknown alert and never resends it by itself.

Cost of a healthy email: two Table writes (claim, confirm) when the queue message carries a valid
snapshot; the mailbox, profile and organization are cached for a minute, like the incoming worker does.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync.auth.secrets import SecretBox
from sync.errors import ConcurrencyConflict, NotFound, SyncError
from sync.health import policy as health
from sync.health.alerts import Alerts, AlertText, mailbox_ref
from sync.mail.errors import MailAuthenticationError, MailServerError, TransientMailError
from sync.mailboxes import eligibility
from sync.mailboxes.outgoing_credentials import outgoing_endpoint
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.email import Email
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EmailDirection, EmailStatus, EntityType
from sync.outgoing import alerts as texts
from sync.outgoing import state
from sync.outgoing.compose import AttachmentData, Composed, ComposeError, compose
from sync.outgoing.messages import OutboxQueue, OutgoingWork, WorkSigner
from sync.outgoing.pool import ConnectionPool
from sync.outgoing.port import (
    AccessTokenSource,
    DeliveryStatusUnknown,
    Envelope,
    ExchangeOutbox,
    ExchangeSender,
    NoConnectionSlot,
    OutgoingConnector,
    SmtpEndpoint,
    Transmission,
)
from sync.outgoing.replies import SmtpReply
from sync.settings import Settings
from sync.store.names import Table
from sync.store.read_cache import ReadCache
from sync.store.slots import SLOT_LEASE, ConnectionSlots
from sync.store.store import Store

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0  # mailbox, profile and organization changes reach senders within a minute
BUSY_RETRY = timedelta(minutes=1)  # every connection of the profile is in use: look again shortly
MAX_ROUNDS = 3  # re-reads after a lost compare-and-swap before giving up (the host redelivers)
SEND_FIELDS = (  # what an attempt writes; re-applied when an unrelated edit won the compare-and-swap
    "status",
    "send_attempt_id",
    "send_lease_expires_on",
    "delivery_attempts",
    "recipient_results",
    "sent_on",
    "postpone_email_processing_until",
    "last_send_error",
)


class _Stale(SyncError):
    """The row changed under us (another sender, an edit): read it again and decide again."""


@dataclass(frozen=True)
class SendReport:
    email_id: str
    # sent | retry | failed | unknown | deferred | scheduled | early (put back) | busy | done | missing | conflict
    outcome: str
    detail: str = ""
    attempts: int = 0


def holder_id() -> str:
    """Who holds connection slots: this process, recognisable in the table."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutgoingSender:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        box: SecretBox,
        connector: OutgoingConnector,
        queue: OutboxQueue,
        signer: WorkSigner,
        *,
        tokens: AccessTokenSource | None = None,
        exchange: ExchangeSender | None = None,
        pool: ConnectionPool | None = None,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self.box = box
        self.queue = queue
        self.signer = signer
        self.tokens = tokens
        self.exchange = exchange
        self.clock = clock
        self.monotonic = monotonic
        self.policy = state.SendPolicy(
            max_attempts=settings.max_delivery_attempts,
            backoff_minutes=settings.send_backoff_minutes,
            lease=timedelta(seconds=settings.lease_seconds),
        )
        slots = ConnectionSlots(store.account.table(Table.CONNECTION_SLOTS), clock)
        self.pool = pool or ConnectionPool(connector, slots, holder=holder_id(), slot_lease=SLOT_LEASE)
        self.alerts = Alerts(store)
        self.cache = ReadCache(store, seconds=CACHE_SECONDS, monotonic=monotonic)
        self._alerted: dict[tuple[str, int], float] = {}

    # --- entry points -------------------------------------------------------------------------------
    def handle(self, work: OutgoingWork) -> SendReport:
        """Do what the email needs now; safe to call any number of times for the same message."""
        email = self.signer.open(work) or self.store.emails.find(work.email_id, "email")
        for _ in range(MAX_ROUNDS):
            if email is None:
                return SendReport(work.email_id, "missing")
            try:
                return self._handle(email)
            except _Stale:
                email = self.store.emails.find(work.email_id, "email")
        return SendReport(work.email_id, "conflict", "the email kept changing; the message will be redelivered")

    def enqueue(self, email: Email, delay: timedelta = timedelta(0)) -> None:
        """Put ``email`` (as just read or written, with its ETag) on the queue."""
        self.queue.put(self.signer.work(email), delay)

    def resolve_expired(self, email: Email) -> SendReport:
        """A Sending email whose lease ended: Failed, delivery unknown (never resent by itself) — or, through
        Exchange, Pending Send again with a look into Sent Items before anything is sent."""
        changed = _copy(email)
        if self._through_exchange(email):  # Sent Items will tell whether the dead attempt sent it
            detail = f"the attempt {email.send_attempt_id} did not record its result before its lease ended"
            outcome = state.verify_later(changed, state.pending(changed), detail, self.clock(), self.policy)
        else:
            outcome = state.expire(changed, self.clock())
        try:
            return self._finish(changed, outcome, attempt_id=email.send_attempt_id)
        except _Stale:  # the attempt recorded its result after all
            return SendReport(email.id, "done", "the attempt finished meanwhile", email.delivery_attempts)

    def _through_exchange(self, email: Email) -> bool:
        mailbox = self._mailbox(email.sender_mailbox_id or "")
        profile = self._profile(mailbox.email_server_profile_id) if mailbox else None
        return self.exchange is not None and profile is not None and profile.server_type.is_exchange

    def close(self) -> None:
        """Close the pooled connections (at shutdown; tests and benchmarks)."""
        self.pool.close_all()

    # --- one decision -------------------------------------------------------------------------------
    def _handle(self, email: Email) -> SendReport:
        now = self.clock()
        waiting = self._not_now(email, now)
        return waiting if waiting is not None else self._send_now(email, now)

    def _not_now(self, email: Email, now: datetime) -> SendReport | None:
        """Why nothing goes out now: settled, held by another attempt, to be sent later, postponed."""
        if email.direction is not EmailDirection.OUTGOING or email.status not in (
            EmailStatus.PENDING_SEND,
            EmailStatus.SENDING,
        ):
            return SendReport(email.id, "done", email.status.name, email.delivery_attempts)
        if email.status is EmailStatus.SENDING:
            if email.send_lease_expires_on is not None and email.send_lease_expires_on > now:
                return SendReport(email.id, "busy", f"held by attempt {email.send_attempt_id}", email.delivery_attempts)
            return self.resolve_expired(email)
        if email.delayed_email_send_time is not None and email.delayed_email_send_time > now:  # R-OUT-13
            self.enqueue(email, email.delayed_email_send_time - now)
            return SendReport(email.id, "scheduled", email.delayed_email_send_time.isoformat())
        if email.postpone_email_processing_until is not None and email.postpone_email_processing_until > now:
            # early (another instance's clock, a redelivery) or a duplicate: put back for the rest of the wait.
            # Dropping it lost deferred emails until the sweep found them; a duplicate stays one message.
            self.enqueue(email, email.postpone_email_processing_until - now)
            return SendReport(email.id, "early", email.postpone_email_processing_until.isoformat())
        return None

    def _send_now(self, email: Email, now: datetime) -> SendReport:
        mailbox = self._mailbox(email.sender_mailbox_id or "")
        if mailbox is None:
            changed = _copy(email)
            return self._finish(changed, state.fail(changed, "the sending mailbox does not exist"))
        profile = self._profile(mailbox.email_server_profile_id)
        org = self._organization()
        verdict = eligibility.outgoing(mailbox, profile, org, now)
        if not verdict or profile is None:
            return self._not_eligible(email, mailbox, org, verdict, now)
        try:
            composed = self._compose(email, org, now)
        except ComposeError as exc:
            changed = _copy(email)
            return self._finish(changed, state.fail(changed, f"{exc.code}: {exc}"))
        if profile.server_type.is_exchange:
            return self._attempt_exchange(email, mailbox, profile, org, composed)
        try:
            endpoint = outgoing_endpoint(mailbox, profile, self.box, self.settings.extra_ca_file, self.tokens)
        except MailServerError as exc:
            return self._mailbox_failure(email, mailbox, profile, org, exc)
        return self._attempt(email, _Target(mailbox, profile, org, endpoint), composed)

    def _attempt(self, email: Email, target: _Target, composed: Composed) -> SendReport:
        tried = state.pending(email)
        if not tried:  # every recipient is settled already (a resend of a fully delivered email)
            changed = _copy(email)
            return self._finish(changed, state.settle(changed, self.clock(), self.policy))
        claim = _Claim(self, email)
        envelope = Envelope(composed.mail_from, tuple(tried), composed.data, composed.smtputf8)
        sent = self._transmit(email, target, envelope, claim)
        if isinstance(sent, SendReport):
            return sent
        if sent.declined:
            raise _Stale(f"email {email.id} was claimed by another sender")
        if claim.email is None and _mailbox_refused(sent):
            return self._mailbox_failure(email, target.mailbox, target.profile, target.org, _auth_error(sent.mail))
        self._mailbox_reached(target.mailbox)
        changed = claim.email or _copy(email)
        outcome = state.record(changed, sent, tried, self.clock(), self.policy, claimed=claim.email is not None)
        return self._finish(changed, outcome, attempt_id=claim.attempt_id)

    def _attempt_exchange(
        self, email: Email, mailbox: Mailbox, profile: EmailServerProfile, org: OrganizationSettings,
        composed: Composed,
    ) -> SendReport:  # fmt: skip
        """Exchange: look in Sent Items after a lost answer, then claim, submit the whole message, confirm."""
        tried = state.pending(email)
        ready = self._exchange_outbox(email, mailbox, profile, org, tried)
        if isinstance(ready, SendReport):
            return ready
        claim = _Claim(self, email)
        if not claim({}):
            raise _Stale(f"email {email.id} was claimed by another sender")
        assert claim.email is not None
        try:
            ready.send(_with_bcc(composed), save_copy=org.save_outgoing_email_to_sent_folder)
        except DeliveryStatusUnknown as exc:
            outcome = state.verify_later(claim.email, tried, str(exc), self.clock(), self.policy)
            return self._finish(claim.email, outcome, attempt_id=claim.attempt_id)
        except MailServerError as exc:  # Exchange refused the submission whole, or it never left: nobody got it
            error = f"{exc.code}: {exc}"
            outcome = state.lost_link(claim.email, tried, error, self.clock(), self.policy, claimed=True)
            report = self._finish(claim.email, outcome, attempt_id=claim.attempt_id)
            if not isinstance(exc, TransientMailError):  # credentials or rights: the mailbox needs attention
                self._record_mailbox_failure(mailbox, profile, org, exc)
            return report
        self._mailbox_reached(mailbox)
        sent = Transmission(EXCHANGE_OK, {address: EXCHANGE_OK for address in tried}, EXCHANGE_OK)
        outcome = state.record(claim.email, sent, tried, self.clock(), self.policy, claimed=True)
        return self._finish(claim.email, outcome, attempt_id=claim.attempt_id)

    def _exchange_outbox(
        self, email: Email, mailbox: Mailbox, profile: EmailServerProfile, org: OrganizationSettings,
        tried: list[str],
    ) -> ExchangeOutbox | SendReport:  # fmt: skip
        """The outbox to send with, or the report when nothing is to be sent (settled, found in Sent Items)."""
        if not tried or self.exchange is None:
            changed = _copy(email)
            if not tried:
                return self._finish(changed, state.settle(changed, self.clock(), self.policy))
            return self._finish(changed, state.fail(changed, "sending through Exchange is not configured"))
        try:
            outbox = self.exchange.open_outbox(mailbox, profile)
            if email.verify_sent_items and email.message_id and outbox.find_sent(email.message_id):
                changed = _copy(email)
                return self._finish(changed, state.found_sent(changed, tried, self.clock(), self.policy))
        except MailServerError as exc:
            return self._mailbox_failure(email, mailbox, profile, org, exc)
        return outbox

    def _transmit(self, email: Email, target: _Target, envelope: Envelope, claim: _Claim) -> Transmission | SendReport:
        """One transmission on a pooled connection; failures become the report of what follows."""
        for round_ in (1, 2):
            opened = False
            try:
                with self.pool.session(target.endpoint) as session:
                    opened = True
                    return session.transmit(envelope, claim)
            except DeliveryStatusUnknown as exc:
                assert claim.email is not None  # the final "." only leaves under a claim
                outcome = state.delivery_unknown(claim.email, claim.handed_to, str(exc), self.clock())
                return self._finish(claim.email, outcome, attempt_id=claim.attempt_id)
            except NoConnectionSlot as exc:
                return self._defer(email, self.clock() + BUSY_RETRY, f"{exc.code}: {exc}", "deferred")
            except MailServerError as exc:
                if not opened:
                    return self._mailbox_failure(email, target.mailbox, target.profile, target.org, exc)
                if claim.email is None and round_ == 1 and isinstance(exc, TransientMailError):
                    continue  # nothing handed over: perhaps a reused connection the server had closed; once more
                changed = claim.email or _copy(email)
                error, claimed = f"{exc.code}: {exc}", claim.email is not None
                tried = list(envelope.rcpt_tos)
                outcome = state.lost_link(changed, tried, error, self.clock(), self.policy, claimed=claimed)
                return self._finish(changed, outcome, attempt_id=claim.attempt_id)
        raise AssertionError("unreachable: the second round never continues")

    # --- outcomes -----------------------------------------------------------------------------------
    def _finish(self, email: Email, outcome: state.Outcome, *, attempt_id: str | None = None) -> SendReport:
        """Write the outcome (one compare-and-swap), then queue a retry and raise the alerts it calls for."""
        written = self._write(email, attempt_id)
        now = self.clock()
        if outcome.next is state.Next.RETRY and outcome.retry_at is not None:
            self.enqueue(written, outcome.retry_at - now)
        alert: AlertText | None = None
        if outcome.next is state.Next.FAILED:
            alert = texts.email_failed(written, outcome.detail, attempts=written.delivery_attempts)
        elif outcome.next is state.Next.UNKNOWN:
            alert = texts.delivery_unknown(written, outcome.detail)
        elif outcome.partial:
            alert = texts.partially_delivered(written, outcome.detail)
        if alert is not None:
            regarding = EntityRef(type=EntityType.EMAIL, id=written.id)
            org = self._organization()
            self.alerts.raise_alert(org, alert, regarding, mailbox_id=written.sender_mailbox_id, email_id=written.id)
        report = SendReport(written.id, outcome.next.value, outcome.detail, written.delivery_attempts)
        log.info("outgoing email %s: %s (%s)", report.email_id, report.outcome, report.detail or "-")
        return report

    def _write(self, email: Email, attempt_id: str | None) -> Email:
        """The compare-and-swap; for a claimed email a lost race is re-applied if the claim is still ours."""
        try:
            return self.store.emails.update(email)
        except (ConcurrencyConflict, NotFound):
            if attempt_id is None:
                raise _Stale(f"email {email.id} changed") from None

        def reapply(stored: Email) -> None:
            # Still our attempt: Sending, or Failed by a sweep that thought us dead; anything else is not ours.
            if stored.send_attempt_id != attempt_id or stored.status not in (EmailStatus.SENDING, EmailStatus.FAILED):
                raise _Stale(f"email {email.id} is no longer held by attempt {attempt_id}")
            for name in SEND_FIELDS:
                setattr(stored, name, getattr(email, name))

        try:
            return self.store.emails.modify(email.id, "email", reapply)
        except _Stale:
            log.warning("email %s: attempt %s finished after losing its claim", email.id, attempt_id)
            raise

    def _defer(self, email: Email, until: datetime, reason: str, outcome: str) -> SendReport:
        """Stay Pending Send until ``until`` and queue a message for then; no attempt is counted."""
        changed = _copy(email)
        state.defer(changed, until, reason)
        written = self._write(changed, None)
        self.enqueue(written, until - self.clock())
        return SendReport(email.id, outcome, reason, email.delivery_attempts)

    def _not_eligible(
        self,
        email: Email,
        mailbox: Mailbox,
        org: OrganizationSettings,
        verdict: eligibility.Eligibility,
        now: datetime,
    ) -> SendReport:
        """R-OUT-3: the email stays Pending Send; an alert on the mailbox says why; checked again later."""
        blocking = tuple(r for r in verdict.reasons if r is not eligibility.Reason.POSTPONED)
        if not blocking and mailbox.postpone_sending_until is not None:  # a mailbox-level failure is cooling down
            return self._defer(email, mailbox.postpone_sending_until, "the mailbox is postponed", "deferred")
        alert = texts.not_eligible(mailbox, blocking or verdict.reasons, email.subject)
        self._alert_once(org, alert, mailbox)
        until = now + timedelta(minutes=self.settings.transient_retry_minutes)
        return self._defer(email, until, f"not eligible: {texts.reasons_text(blocking)}", "ineligible")

    def _mailbox_failure(
        self,
        email: Email,
        mailbox: Mailbox,
        profile: EmailServerProfile,
        org: OrganizationSettings,
        exc: MailServerError,
    ) -> SendReport:
        """Connecting or logging in failed: the mailbox's problem (R-OUT-16, R-ERR-2/3), the email waits."""
        retry_at = self._record_mailbox_failure(mailbox, profile, org, exc)
        return self._defer(email, retry_at, f"{exc.code}: {exc}", "deferred")

    def _record_mailbox_failure(
        self, mailbox: Mailbox, profile: EmailServerProfile, org: OrganizationSettings, exc: MailServerError
    ) -> datetime:
        """Disable sending (permanent, credentials, or transient too often: R-ERR-3, R-OUT-9) or postpone it, with
        the alert; when to retry."""
        now = self.clock()
        kind = health.classify_error(exc)
        retry_at = now + timedelta(minutes=self.settings.transient_retry_minutes)
        holder: dict[str, health.ErrorClass] = {}

        def record(m: Mailbox) -> None:
            m.last_sync_error = f"{exc.code}: {exc}"[:2048]
            m.last_sync_error_occurred_on = now
            effective = kind
            if kind is health.ErrorClass.TRANSIENT:
                verdict = health.transient_retry(
                    m.outgoing_transient_failure_count, now, limit=self.settings.transient_retry_limit,
                    retry_minutes=self.settings.transient_retry_minutes,
                )  # fmt: skip
                m.outgoing_transient_failure_count = verdict.count
                if verdict.retry_at is not None:
                    m.postpone_sending_until = verdict.retry_at
                else:
                    effective = health.ErrorClass.PERMANENT  # the limit reached: treated as permanent
            if effective is not health.ErrorClass.TRANSIENT:
                m.enabled_for_outgoing = False  # disabled until fixed (R-ERR-2, R-ERR-3, R-ERR-10)
            holder["kind"] = effective

        stored = self.store.mailboxes.modify(mailbox.id, "mailbox", record)
        self.cache.put(("mailbox", stored.id), stored)
        kind = holder["kind"]
        alert = texts.mailbox_failure(stored, profile.name, exc.code, f"{type(exc).__name__}: {exc}", kind=kind.value)
        self.alerts.raise_alert(org, alert, mailbox_ref(stored), mailbox_id=stored.id, profile_id=profile.id)
        return retry_at

    def _mailbox_reached(self, mailbox: Mailbox) -> None:
        """The server took the message: the transient failures in a row end (a write only after failures)."""
        if mailbox.outgoing_transient_failure_count == 0:
            return

        def reset(m: Mailbox) -> None:
            m.outgoing_transient_failure_count = 0

        self.cache.put(("mailbox", mailbox.id), self.store.mailboxes.modify(mailbox.id, "mailbox", reset))

    # --- reading ------------------------------------------------------------------------------------
    def _compose(self, email: Email, org: OrganizationSettings, now: datetime) -> Composed:
        html = email.description
        if email.body_blob is not None:
            html = self.store.blobs.get(email.body_blob).decode("utf-8", "replace")
        attachments = [
            AttachmentData(a.file_name, a.mime_type, self.store.blobs.get(a.blob), a.content_id, a.is_inline)
            for a in email.attachments
            if a.blob is not None
        ]
        limit = org.maximum_subject_length_on_mail_server
        return compose(email, html=html, attachments=attachments, subject_limit=limit, sent_on=now)

    def _mailbox(self, mailbox_id: str) -> Mailbox | None:
        return self.cache.mailbox(mailbox_id)

    def _profile(self, profile_id: str | None) -> EmailServerProfile | None:
        return self.cache.profile(profile_id)

    def _organization(self) -> OrganizationSettings:
        return self.cache.organization()

    def _alert_once(self, org: OrganizationSettings, alert: AlertText, mailbox: Mailbox) -> None:
        """One alert write per mailbox and code a minute: a thousand waiting emails are one alert, not 2,000 writes."""
        key = (mailbox.id, alert.code)
        last = self._alerted.get(key)
        if last is not None and self.monotonic() - last < CACHE_SECONDS:
            return
        self._alerted[key] = self.monotonic()
        self.alerts.raise_alert(org, alert, mailbox_ref(mailbox), mailbox_id=mailbox.id)


@dataclass(frozen=True)
class _Target:
    mailbox: Mailbox
    profile: EmailServerProfile
    org: OrganizationSettings
    endpoint: SmtpEndpoint


class _Claim:
    """The ``before_data`` of a transmission: claims the email (compare-and-swap) just before DATA."""

    def __init__(self, sender: OutgoingSender, email: Email) -> None:
        self.sender = sender
        self.original = email
        self.email: Email | None = None
        self.attempt_id: str | None = None
        self.handed_to: list[str] = []

    def __call__(self, rcpt: Mapping[str, SmtpReply]) -> bool:
        attempt = _copy(self.original)
        attempt_id = str(uuid.uuid4())
        state.claim(attempt, attempt_id, self.sender.clock(), self.sender.policy)
        try:
            self.sender.store.emails.update(attempt)
        except (ConcurrencyConflict, NotFound):
            return False  # someone else has it (or it changed): RSET, and look again
        self.email, self.attempt_id = attempt, attempt_id
        self.handed_to = [address for address, reply in rcpt.items() if 200 <= reply.code < 300]
        return True


EXCHANGE_OK = SmtpReply(250, "submitted to Exchange")  # Exchange takes a submission whole, for every recipient


def _with_bcc(composed: Composed) -> bytes:
    """The message with its Bcc header: Exchange reads the recipients from the MIME and drops Bcc on sending."""
    if not composed.bcc:
        return composed.data
    return f"Bcc: {', '.join(composed.bcc)}\r\n".encode() + composed.data


def _copy(email: Email) -> Email:
    """A deep copy that keeps the ETag, to change and write back with compare-and-swap."""
    copy = email.model_copy(deep=True)
    copy.with_etag(email.etag)
    return copy


def _mailbox_refused(sent: Transmission) -> bool:
    """MAIL FROM refused for authentication: the mailbox's credentials, not this email."""
    return sent.mail.code in (530, 534, 535) and not sent.rcpt


def _auth_error(reply: SmtpReply) -> MailServerError:
    return MailAuthenticationError(f"the server refused the sender: {reply}", code="OutgoingEmailAuthenticationError")
