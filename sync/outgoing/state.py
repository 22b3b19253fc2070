"""The send state machine of one email — pure: what each event does to the email row.

::

    Draft ──SendEmail──► Pending Send ──claim (ETag CAS, just before DATA)──► Sending ──250 to DATA──► Sent
      ▲                   │   ▲                                              │
      │ SendEmail again   │   └── back-off: 4xx, or the link lost before ────┤
      │ (Failed only)     │       the whole message was sent                 │
    Failed ◄──────────────┴── every recipient refused (5xx), attempts ◄──────┘
                               exhausted, or delivery unknown: the link lost after the message was
                               handed over, or a claim whose lease expired (never resent automatically)

Each envelope recipient keeps its last result (:class:`~sync.model.email.RecipientResult`). An attempt
only addresses recipients still pending: never one that accepted, was refused for good, or may have
received the message already. A failure before DATA (MAIL or every RCPT refused, the link lost) is an
attempt too (R-OUT-8) but needs no claim: nothing was handed over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sync.model.address_syntax import InvalidAddress, canonical_mailbox
from sync.model.email import Email, RecipientResult, RecipientStatus
from sync.model.options import EmailStatus, ParticipationType
from sync.outgoing.port import Transmission
from sync.outgoing.replies import ReplyClass, SmtpReply, backoff, classify, meaning

RECIPIENT_TYPES = (ParticipationType.TO_RECIPIENT, ParticipationType.CC_RECIPIENT, ParticipationType.BCC_RECIPIENT)
SETTLED = frozenset({RecipientStatus.ACCEPTED, RecipientStatus.REFUSED_PERMANENT, RecipientStatus.UNKNOWN})
_BY_CLASS = {
    ReplyClass.ACCEPTED: RecipientStatus.ACCEPTED,
    ReplyClass.TRANSIENT: RecipientStatus.REFUSED_TRANSIENT,
    ReplyClass.AUTHENTICATION: RecipientStatus.REFUSED_TRANSIENT,  # the mailbox's problem, not the recipient's
    ReplyClass.PERMANENT: RecipientStatus.REFUSED_PERMANENT,
}


@dataclass(frozen=True)
class SendPolicy:
    max_attempts: int  # R-OUT-8, ``MaximumEmailDeliveryAttempts`` (5, spec §3.3)
    backoff_minutes: tuple[int, ...]  # after attempts 1, 2, 3...: 5, 15, 30, 60
    lease: timedelta  # how long a claim holds: longer than any run can take


class Next(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    UNKNOWN = "unknown"  # Failed, and some recipients may have the message


@dataclass(frozen=True)
class Outcome:
    next: Next
    retry_at: datetime | None = None
    undelivered: tuple[RecipientResult, ...] = ()  # refused for good, or still pending when attempts ran out
    detail: str = ""

    @property
    def partial(self) -> bool:
        return self.next is Next.SENT and bool(self.undelivered)


def recipients(email: Email) -> list[str]:
    """Every envelope address of the email (To, Cc, Bcc), each once, in that order."""
    seen: dict[str, str] = {}
    for participation in RECIPIENT_TYPES:
        for party in email.parties_of(participation):
            if party.address_used:
                address = _wire_form(party.address_used)
                seen.setdefault(address.casefold(), address)
    return list(seen.values())


def _wire_form(address: str) -> str:
    """The address as the message's headers and the envelope carry it (IDNA domain); as stored if invalid."""
    try:
        return canonical_mailbox(address)
    except InvalidAddress:
        return address  # composing fails on it first: this email is never transmitted


def pending(email: Email) -> list[str]:
    """The addresses the next attempt sends to: not accepted, not refused for good, not possibly delivered."""
    settled = {r.address.casefold() for r in email.recipient_results if r.status in SETTLED}
    return [address for address in recipients(email) if address.casefold() not in settled]


def claim(email: Email, attempt_id: str, now: datetime, policy: SendPolicy) -> None:
    """Pending Send -> Sending: this attempt, and no other, may hand the message over until the lease ends."""
    email.status = EmailStatus.SENDING
    email.send_attempt_id = attempt_id
    email.send_lease_expires_on = now + policy.lease
    email.delivery_attempts += 1


def record(
    email: Email, sent: Transmission, tried: Sequence[str], now: datetime, policy: SendPolicy, *, claimed: bool
) -> Outcome:
    """Apply the server's answers to the recipients ``tried`` and decide what follows."""
    if not claimed:
        email.delivery_attempts += 1
    attempt = email.delivery_attempts
    if not 200 <= sent.mail.code < 300:  # MAIL refused: the same answer for every recipient
        _set(email, ((address, sent.mail, _status(sent.mail)) for address in tried), attempt, now)
    else:
        answers: list[tuple[str, SmtpReply, RecipientStatus]] = []
        for address, reply in sent.rcpt.items():
            if 200 <= reply.code < 300 and sent.data is not None:
                answers.append((address, sent.data, _status(sent.data)))
            elif not 200 <= reply.code < 300:
                answers.append((address, reply, _status(reply)))
        _set(email, answers, attempt, now)
    return settle(email, now, policy)


def lost_link(
    email: Email, tried: Sequence[str], error: str, now: datetime, policy: SendPolicy, *, claimed: bool
) -> Outcome:
    """The connection failed before the whole message was sent: nobody got it; try again later."""
    if not claimed:
        email.delivery_attempts += 1
    rows = ((address, None, RecipientStatus.REFUSED_TRANSIENT) for address in tried)
    _set(email, rows, email.delivery_attempts, now, text=error)
    return settle(email, now, policy)


def delivery_unknown(email: Email, handed_to: Sequence[str], detail: str, now: datetime) -> Outcome:
    """The message was handed over and the answer lost: Failed, and never sent again by itself."""
    rows = ((address, None, RecipientStatus.UNKNOWN) for address in handed_to)
    _set(email, rows, email.delivery_attempts, now, text=detail)
    email.status = EmailStatus.FAILED
    email.send_lease_expires_on = None
    email.postpone_email_processing_until = None
    email.last_send_error = f"DeliveryStatusUnknown: {detail}"[:2048]
    return Outcome(Next.UNKNOWN, detail=detail)


def verify_later(email: Email, tried: Sequence[str], detail: str, now: datetime, policy: SendPolicy) -> Outcome:
    """Exchange: the submission's answer was lost, but Sent Items will tell. Pending Send again; the next
    attempt looks for the Message-ID there before it sends anything (:func:`found_sent`)."""
    rows = ((address, None, RecipientStatus.REFUSED_TRANSIENT) for address in tried)
    _set(email, rows, email.delivery_attempts, now, text=f"outcome unknown, Sent Items will tell: {detail}")
    email.verify_sent_items = True
    outcome = settle(email, now, policy)
    if outcome.next is Next.FAILED:  # no attempt left to verify with: as for SMTP, never resent by itself
        email.verify_sent_items = False
        return delivery_unknown(email, tried, detail, now)
    return outcome


def found_sent(email: Email, tried: Sequence[str], now: datetime, policy: SendPolicy) -> Outcome:
    """Exchange: the message of a lost answer is in Sent Items: it went out; nothing is sent again."""
    rows = ((address, None, RecipientStatus.ACCEPTED) for address in tried)
    _set(email, rows, email.delivery_attempts, now, text="found in the sender's Sent Items")
    email.verify_sent_items = False
    return settle(email, now, policy)


def expire(email: Email, now: datetime) -> Outcome:
    """A claim whose lease ran out: its sender died somewhere between the claim and recording the answer."""
    detail = f"the attempt {email.send_attempt_id} did not record its result before its lease ended"
    return delivery_unknown(email, pending(email), detail, now)


def fail(email: Email, detail: str) -> Outcome:
    """The email cannot be sent at all (it cannot be composed): Failed, no recipient touched."""
    email.status = EmailStatus.FAILED
    email.send_lease_expires_on = None
    email.postpone_email_processing_until = None
    email.last_send_error = detail[:2048]
    return Outcome(Next.FAILED, detail=detail)


def defer(email: Email, until: datetime, reason: str) -> None:
    """Stay Pending Send until ``until`` (the mailbox is not eligible or busy); no attempt is counted."""
    email.postpone_email_processing_until = until
    email.last_send_error = reason[:2048]


def reopen(email: Email) -> None:
    """Before a Failed email is sent again: a fresh attempt budget; recipients that accepted stay done.

    Through Exchange, a resend after an unknown outcome first looks for the message in Sent Items.
    """
    email.verify_sent_items = any(r.status is RecipientStatus.UNKNOWN for r in email.recipient_results)
    email.recipient_results = [r for r in email.recipient_results if r.status is RecipientStatus.ACCEPTED]
    email.delivery_attempts = 0
    email.send_lease_expires_on = None
    email.postpone_email_processing_until = None
    email.last_send_error = None


def _status(reply: SmtpReply) -> RecipientStatus:
    return _BY_CLASS[classify(reply)]


def _set(
    email: Email,
    rows: Iterable[tuple[str, SmtpReply | None, RecipientStatus]],
    attempt: int,
    now: datetime,
    *,
    text: str | None = None,
) -> None:
    results = {r.address.casefold(): r for r in email.recipient_results}
    for address, reply, status in rows:
        results[address.casefold()] = RecipientResult(
            address=address,
            status=status,
            code=reply.code if reply else None,
            reply=(meaning(reply) if reply else text or "")[:500] or None,
            attempt=attempt,
            on=now,
        )
    email.recipient_results = list(results.values())


def settle(email: Email, now: datetime, policy: SendPolicy) -> Outcome:
    """After an attempt: Sent when nobody is left, a retry while attempts remain, else the end."""
    left = pending(email)
    by_address = {r.address.casefold(): r for r in email.recipient_results}
    accepted = any(r.status is RecipientStatus.ACCEPTED for r in email.recipient_results)
    refused = [r for r in email.recipient_results if r.status is RecipientStatus.REFUSED_PERMANENT]
    email.send_lease_expires_on = None
    if left and email.delivery_attempts < policy.max_attempts:
        retry_at = now + backoff(email.delivery_attempts, policy.backoff_minutes)
        email.status = EmailStatus.PENDING_SEND
        email.postpone_email_processing_until = retry_at
        email.last_send_error = _summary(by_address.get(a.casefold()) for a in left)
        return Outcome(Next.RETRY, retry_at=retry_at, detail=email.last_send_error or "")
    undelivered = tuple(refused + [by_address[a.casefold()] for a in left if a.casefold() in by_address])
    email.postpone_email_processing_until = None
    email.last_send_error = _summary(undelivered) if undelivered else None
    if accepted:
        email.status = EmailStatus.SENT
        email.sent_on = now
        return Outcome(Next.SENT, undelivered=undelivered, detail=email.last_send_error or "")
    email.status = EmailStatus.FAILED
    return Outcome(Next.FAILED, undelivered=undelivered, detail=email.last_send_error or "")


def _summary(results: Iterable[RecipientResult | None]) -> str | None:
    parts = [f"{r.address}: {r.reply or r.status.name.lower()}" for r in results if r is not None]
    return "; ".join(parts)[:2048] or None
