"""SMTP replies classified (RFC 5321 first digit, RFC 3463 enhanced codes) and the per-email back-off."""

from datetime import timedelta

import pytest

from sync.outgoing.replies import ReplyClass, SmtpReply, backoff, classify, meaning

C = ReplyClass


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (250, "2.0.0 OK", C.ACCEPTED),
        (251, "User not local; will forward", C.ACCEPTED),
        (421, "4.7.0 Try again later, closing connection", C.TRANSIENT),
        (450, "4.2.0 Mailbox unavailable", C.TRANSIENT),
        (451, "4.3.0 Local error", C.TRANSIENT),
        (452, "4.5.3 Too many recipients", C.TRANSIENT),
        (454, "4.7.0 Temporary authentication failure", C.TRANSIENT),
        (550, "5.1.1 No such user", C.PERMANENT),
        (551, "User not local", C.PERMANENT),
        (552, "5.3.4 Message size exceeds fixed limit", C.PERMANENT),
        (553, "5.1.3 Bad address syntax", C.PERMANENT),
        (554, "5.7.1 Relay access denied", C.PERMANENT),
        (550, "5.4.5 Daily user sending quota exceeded", C.TRANSIENT),  # Gmail: a quota, not a refusal
        (535, "5.7.8 Username and Password not accepted", C.AUTHENTICATION),  # R-OUT-16
        (530, "5.7.0 Authentication Required", C.AUTHENTICATION),
        (534, "5.7.9 Application-specific password required", C.AUTHENTICATION),
        (500, "", C.PERMANENT),
    ],
)
def test_classification(code: int, text: str, expected: ReplyClass) -> None:
    assert classify(SmtpReply(code, text)) is expected


def test_the_enhanced_code_is_read_from_the_start_of_the_text() -> None:
    assert SmtpReply(550, "5.1.1 <x@y>: unknown").enhanced == "5.1.1"
    assert SmtpReply(550, "mailbox 5.1.1 unknown").enhanced is None
    assert SmtpReply(250, "OK").enhanced is None


def test_meanings_name_the_problem_and_keep_the_server_words() -> None:
    assert meaning(SmtpReply(550, "5.1.1 No such user")) == "the mailbox does not exist (550 5.1.1 No such user)"
    assert meaning(SmtpReply(552, "5.3.4 Too big")).startswith("the message is too large")
    assert meaning(SmtpReply(421, "4.7.0 Slow down")).startswith("the server is rate limiting")
    assert meaning(SmtpReply(499, "odd")) == "the server refused, try later (499 odd)"


def test_backoff_is_5_15_30_60_and_the_last_step_repeats() -> None:
    steps = (5, 15, 30, 60)
    assert [backoff(n, steps) for n in range(1, 7)] == [timedelta(minutes=m) for m in (5, 15, 30, 60, 60, 60)]
    assert backoff(0, steps) == timedelta(minutes=5)
    with pytest.raises(ValueError):
        backoff(1, ())


def test_an_accepting_reply_reads_as_accepted_not_refused() -> None:
    assert meaning(SmtpReply(250, "2.0.0 Message accepted")) == "accepted (250 2.0.0 Message accepted)"
    assert meaning(SmtpReply(251, "2.1.5 User not local; will forward")).startswith("accepted (251")
