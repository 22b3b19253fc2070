"""Queue messages: a signed snapshot saves the sender a read; anything else costs one, never trust."""

from __future__ import annotations

import os
from datetime import timedelta

from sync.model.email import Email
from sync.model.options import EmailDirection
from sync.outgoing.messages import MAX_DELAY, MAX_SNAPSHOT_CHARS, OutgoingWork, WorkSigner, visibility_seconds

SIGNER = WorkSigner(os.urandom(32))


def stored(**fields: object) -> Email:
    email = Email(direction=EmailDirection.OUTGOING, subject="Quote", **fields)
    email.with_etag("W/\"datetime'2025-03-01T09%3A00%3A00Z'\"")
    return email


def test_a_snapshot_round_trips_with_its_etag() -> None:
    email = stored()
    work = SIGNER.work(email)
    opened = SIGNER.open(OutgoingWork.model_validate_json(work.model_dump_json()))
    assert opened == email and opened is not None and opened.etag == email.etag


def test_a_changed_snapshot_or_etag_is_not_trusted() -> None:
    work = SIGNER.work(stored())
    assert work.snapshot is not None
    forged = work.model_copy(update={"snapshot": work.snapshot.replace("Quote", "Invoice")})
    assert SIGNER.open(forged) is None
    assert SIGNER.open(work.model_copy(update={"etag": "W/other"})) is None
    assert SIGNER.open(work.model_copy(update={"email_id": "another"})) is None
    assert WorkSigner(os.urandom(32)).open(work) is None  # another deployment's key
    assert SIGNER.open(OutgoingWork(email_id=work.email_id)) is None


def test_large_or_unwritten_emails_travel_as_an_id() -> None:
    big = stored(description="x" * MAX_SNAPSHOT_CHARS)
    assert SIGNER.work(big) == OutgoingWork(email_id=big.id)
    unwritten = Email(direction=EmailDirection.OUTGOING)
    assert SIGNER.work(unwritten).snapshot is None


def test_the_signer_hides_its_key() -> None:
    assert repr(SIGNER) == "WorkSigner(key=***)"


def test_a_delay_becomes_whole_seconds_rounded_up_within_the_queue_limit() -> None:
    assert visibility_seconds(timedelta(seconds=59, milliseconds=980)) == 60  # truncating made it arrive early
    assert visibility_seconds(timedelta(milliseconds=1)) == 1
    assert visibility_seconds(timedelta(seconds=-3)) == 0
    assert visibility_seconds(timedelta(days=30)) == int(MAX_DELAY.total_seconds())
