"""The send state machine: what each answer of the server does to the email and its recipients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.model.email import ActivityParty, Email, RecipientResult, RecipientStatus
from sync.model.options import EmailDirection, EmailStatus, ParticipationType
from sync.outgoing import state
from sync.outgoing.port import Transmission
from sync.outgoing.replies import SmtpReply

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
POLICY = state.SendPolicy(max_attempts=5, backoff_minutes=(5, 15, 30, 60), lease=timedelta(minutes=12))
OK = SmtpReply(250, "2.0.0 OK")
A, B, C = "a@x.test", "b@x.test", "c@x.test"


def email(*to: str, bcc: tuple[str, ...] = ()) -> Email:
    parties = [ActivityParty(participation=ParticipationType.SENDER, address_used="me@x.test")]
    parties += [ActivityParty(participation=ParticipationType.TO_RECIPIENT, address_used=a) for a in to]
    parties += [ActivityParty(participation=ParticipationType.BCC_RECIPIENT, address_used=a) for a in bcc]
    return Email(direction=EmailDirection.OUTGOING, status=EmailStatus.PENDING_SEND, parties=parties)


def claimed(e: Email) -> Email:
    state.claim(e, "attempt-1", NOW, POLICY)
    return e


def statuses(e: Email) -> dict[str, RecipientStatus]:
    return {r.address: r.status for r in e.recipient_results}


def test_a_claim_marks_sending_with_a_lease_and_counts_the_attempt() -> None:
    e = claimed(email(A))
    assert (e.status, e.send_attempt_id, e.delivery_attempts) == (EmailStatus.SENDING, "attempt-1", 1)
    assert e.send_lease_expires_on == NOW + timedelta(minutes=12)


def test_everyone_accepted_is_sent() -> None:
    e = claimed(email(A, B))
    outcome = state.record(e, Transmission(OK, {A: OK, B: OK}, OK), [A, B], NOW, POLICY, claimed=True)
    assert outcome.next is state.Next.SENT and not outcome.partial
    assert (e.status, e.sent_on, e.send_lease_expires_on) == (EmailStatus.SENT, NOW, None)
    assert statuses(e) == {A: RecipientStatus.ACCEPTED, B: RecipientStatus.ACCEPTED}


def test_a_5xx_recipient_is_final_and_the_rest_is_sent() -> None:
    e = claimed(email(A, B))
    sent = Transmission(OK, {A: OK, B: SmtpReply(550, "5.1.1 unknown")}, OK)
    outcome = state.record(e, sent, [A, B], NOW, POLICY, claimed=True)
    assert outcome.partial and [r.address for r in outcome.undelivered] == [B]
    assert e.status is EmailStatus.SENT and state.pending(e) == []


def test_a_4xx_recipient_retries_alone_after_the_back_off() -> None:
    e = claimed(email(A, B))
    sent = Transmission(OK, {A: OK, B: SmtpReply(451, "4.3.0")}, OK)
    outcome = state.record(e, sent, [A, B], NOW, POLICY, claimed=True)
    assert (outcome.next, outcome.retry_at) == (state.Next.RETRY, NOW + timedelta(minutes=5))
    assert (e.status, e.postpone_email_processing_until) == (EmailStatus.PENDING_SEND, NOW + timedelta(minutes=5))
    assert state.pending(e) == [B]  # A never gets it again


def test_attempts_run_out_into_failed_or_partially_sent() -> None:
    e = email(A)
    e.delivery_attempts = 4
    outcome = state.record(claimed(e), Transmission(OK, {A: SmtpReply(450)}, None), [A], NOW, POLICY, claimed=True)
    assert (outcome.next, e.status, e.delivery_attempts) == (state.Next.FAILED, EmailStatus.FAILED, 5)

    e = email(A, B)
    e.delivery_attempts = 4
    e.recipient_results = [RecipientResult(address=A, status=RecipientStatus.ACCEPTED, attempt=1)]
    outcome = state.record(claimed(e), Transmission(OK, {B: SmtpReply(450)}, None), [B], NOW, POLICY, claimed=True)
    assert outcome.partial and e.status is EmailStatus.SENT


def test_mail_from_refused_answers_for_every_recipient() -> None:
    e = email(A, B)
    outcome = state.record(e, Transmission(SmtpReply(550, "5.7.1 not allowed")), [A, B], NOW, POLICY, claimed=False)
    assert outcome.next is state.Next.FAILED and e.delivery_attempts == 1  # an attempt without a claim
    assert statuses(e) == {A: RecipientStatus.REFUSED_PERMANENT, B: RecipientStatus.REFUSED_PERMANENT}


def test_the_answer_to_the_message_applies_to_the_accepted_recipients() -> None:
    e = claimed(email(A, B))
    sent = Transmission(OK, {A: OK, B: OK}, SmtpReply(554, "5.6.0 rejected"))
    assert state.record(e, sent, [A, B], NOW, POLICY, claimed=True).next is state.Next.FAILED
    assert {r.code for r in e.recipient_results} == {554}


def test_a_lost_link_before_the_end_retries_everyone_tried() -> None:
    e = claimed(email(A, B))
    outcome = state.lost_link(e, [A, B], "ConnectionDropped", NOW, POLICY, claimed=True)
    assert outcome.next is state.Next.RETRY and state.pending(e) == [A, B]
    assert e.recipient_results[0].reply == "ConnectionDropped"


def test_delivery_unknown_fails_and_is_never_retried_automatically() -> None:
    e = claimed(email(A, B))
    outcome = state.delivery_unknown(e, [A], "no answer", NOW)
    assert outcome.next is state.Next.UNKNOWN and e.status is EmailStatus.FAILED
    assert statuses(e) == {A: RecipientStatus.UNKNOWN}
    assert state.pending(e) == [B]  # a manual resend reopens it first, see below


def test_an_expired_claim_is_delivery_unknown_for_everyone_pending() -> None:
    e = claimed(email(A, B))
    e.recipient_results = [RecipientResult(address=A, status=RecipientStatus.ACCEPTED)]
    assert state.expire(e, NOW).next is state.Next.UNKNOWN
    assert statuses(e) == {A: RecipientStatus.ACCEPTED, B: RecipientStatus.UNKNOWN}


def test_reopening_keeps_only_the_accepted_recipients_and_resets_the_budget() -> None:
    e = email(A, B, C)
    e.delivery_attempts = 5
    e.recipient_results = [
        RecipientResult(address=A, status=RecipientStatus.ACCEPTED),
        RecipientResult(address=B, status=RecipientStatus.UNKNOWN),
        RecipientResult(address=C, status=RecipientStatus.REFUSED_PERMANENT),
    ]
    state.reopen(e)
    assert (e.delivery_attempts, state.pending(e)) == (0, [B, C])


def test_recipients_are_listed_once_across_to_and_bcc() -> None:
    assert state.recipients(email(A, "A@X.test", bcc=(B, A))) == [A, B]


def test_a_deferral_counts_no_attempt() -> None:
    e = email(A)
    state.defer(e, NOW + timedelta(minutes=5), "not eligible")
    assert e.delivery_attempts == 0 and e.last_send_error == "not eligible"
    assert e.postpone_email_processing_until == NOW + timedelta(minutes=5)
