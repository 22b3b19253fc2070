"""Composing the message: headers, envelope, bodies and attachments; hostile values never add a header."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

import pytest

from sync.model.email import ActivityParty, Email
from sync.model.options import EmailDirection, ParticipationType, Priority
from sync.outgoing.compose import (
    AttachmentData,
    ComposeError,
    compose,
    header_text,
    mail_address,
    message_id_for,
)

P = ParticipationType
NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
BASE_HEADERS = ["from", "to", "subject", "date", "message-id"]
MIME_HEADERS = {"mime-version", "content-type", "content-transfer-encoding"}
HOSTILE = [
    "Hi\r\nBcc: victim@evil.test",
    "Hi\nBcc: victim@evil.test",
    "Hi\rBcc: victim@evil.test",
    "Hi\x85Bcc: victim@evil.test",  # NEL
    "Hi\u2028Bcc: victim@evil.test",  # LINE SEPARATOR
    "Hi\u2029Bcc: victim@evil.test",
    "Hi\x0bBcc: victim@evil.test\x0cX: y",
    "Hi\x00\r\n\r\nbody injection",
    "=?utf-8?q?Hi=0D=0ABcc:_victim@evil.test?=",  # an encoded word that decodes to CR LF (CVE-2024-6923)
    "=?utf-8?b?SGkNCkJjYzogdmljdGltQGV2aWwudGVzdA==?=",
    "plain =?utf-8?q?=0A?= words \r\n\tX-Folded: 1",
]


def party(participation: ParticipationType, address: str, name: str | None = None) -> ActivityParty:
    return ActivityParty(participation=participation, address_used=address, display_name=name)


def email(**fields: Any) -> Email:
    values: dict[str, Any] = {
        "direction": EmailDirection.OUTGOING,
        "subject": "Your quote",
        "message_id": "<e1@example.test>",
        "tracking_token": "CRM:0001001",
        "parties": [
            party(P.SENDER, "alice@example.test", "Alice Adams"),
            party(P.TO_RECIPIENT, "carol@fabrikam.test", "Carol Clark"),
        ],
    }
    values.update(fields)
    return Email(**values)


def build(e: Email, html: str | None = "<p>Hello</p>", **kwargs: Any) -> tuple[bytes, EmailMessage]:
    composed = compose(e, html=html, subject_limit=kwargs.pop("subject_limit", 255), sent_on=NOW, **kwargs)
    parsed = message_from_bytes(composed.data.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return composed.data, parsed


def header_names(data: bytes) -> list[str]:
    """The top-level header names as written, MIME ones aside (their presence depends on the body)."""
    names = [name.lower() for name in BytesHeaderParser(policy=compat32).parsebytes(data)]
    return [name for name in names if name not in MIME_HEADERS]


def test_the_headers_of_a_plain_email() -> None:
    data, msg = build(email())
    assert header_names(data) == BASE_HEADERS
    assert msg["From"] == "Alice Adams <alice@example.test>"
    assert msg["To"] == "Carol Clark <carol@fabrikam.test>"
    assert msg["Subject"] == "Your quote CRM:0001001"
    assert msg["Message-ID"] == "<e1@example.test>"
    assert msg["Date"] == "Sat, 01 Mar 2025 09:30:00 +0000"


def test_lines_end_in_crlf_and_stay_short() -> None:
    data, _ = build(email(subject="word " * 100), html="<p>" + "long line " * 500 + "</p>")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert data.isascii()


def test_html_gets_a_text_alternative() -> None:
    _, msg = build(email(), html="<h1>Quote</h1><p>Total: 10&nbsp;&euro;</p><script>x()</script><ul><li>a</li></ul>")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    assert text is not None and text.get_content() == "Quote\n\nTotal: 10 €\n\n- a\n"
    assert "<h1>Quote</h1>" in msg.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_a_written_text_body_wins_and_no_html_means_plain_text_only() -> None:
    _, msg = build(email(text_body="Hand-written text"))
    assert msg.get_body(("plain",)).get_content() == "Hand-written text\n"  # type: ignore[union-attr]
    _, plain = build(email(text_body="Only text"), html=None)
    assert plain.get_content_type() == "text/plain"


def test_bcc_is_in_the_envelope_only_and_addresses_are_sent_once() -> None:
    parties = [
        *email().parties,
        party(P.CC_RECIPIENT, "dan@contoso.test"),
        party(P.BCC_RECIPIENT, "boss@example.test"),
        party(P.BCC_RECIPIENT, "CAROL@fabrikam.test"),
    ]
    composed = compose(email(parties=parties), html="<p>x</p>", subject_limit=255, sent_on=NOW)
    assert composed.recipients == ("carol@fabrikam.test", "dan@contoso.test", "boss@example.test")
    assert composed.mail_from == "alice@example.test"
    assert b"boss@example.test" not in composed.data and "bcc" not in header_names(composed.data)


def test_only_bcc_recipients_make_an_undisclosed_to() -> None:
    parties = [party(P.SENDER, "alice@example.test"), party(P.BCC_RECIPIENT, "boss@example.test")]
    _, msg = build(email(parties=parties))
    assert msg["To"] == "undisclosed-recipients:;"


def test_a_queue_email_sent_by_an_agent_has_a_sender_header() -> None:
    parties = [
        party(P.SENDER, "support@example.test", "Support"),
        party(P.OWNER, "bob@example.test", "Bob"),
        party(P.TO_RECIPIENT, "carol@fabrikam.test"),
    ]
    data, msg = build(email(parties=parties))
    assert msg["From"] == "Support <support@example.test>" and msg["Sender"] == "Bob <bob@example.test>"
    assert header_names(data)[:3] == ["from", "sender", "to"]
    same = [party(P.SENDER, "bob@example.test"), party(P.OWNER, "BOB@example.test"), party(P.TO_RECIPIENT, "c@d.test")]
    assert build(email(parties=same))[1]["Sender"] is None


def test_replies_carry_in_reply_to_and_the_last_references() -> None:
    refs = [f"<r{n}@example.test>" for n in range(40)] + ["not an id", "<bad id@x>"]
    _, msg = build(email(in_reply_to="<r39@example.test>", references=refs))
    assert msg["In-Reply-To"] == "<r39@example.test>"
    assert msg["References"].split() == [f"<r{n}@example.test>" for n in range(8, 40)]


def test_priority_headers() -> None:
    _, msg = build(email(priority=Priority.HIGH))
    assert (msg["Importance"], msg["X-Priority"]) == ("high", "1")
    assert build(email())[1]["Importance"] is None


def test_attachments_and_inline_images() -> None:
    files = [
        AttachmentData("quote.pdf", "application/pdf", b"%PDF-1.4"),
        AttachmentData("logo.png", "image/png", b"\x89PNG", content_id="logo@crm", inline=True),
        AttachmentData("notes", "not a type", b"raw"),
    ]
    _, msg = build(email(), html='<img src="cid:logo@crm">', attachments=files)
    assert msg.get_content_type() == "multipart/mixed"
    attached = {p.get_filename(): (p.get_content_type(), p.get_content()) for p in msg.iter_attachments()}
    assert attached == {"quote.pdf": ("application/pdf", b"%PDF-1.4"), "notes": ("application/octet-stream", b"raw")}
    image = next(p for p in msg.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<logo@crm>" and image.get_content() == b"\x89PNG"


def test_the_subject_with_its_token_respects_the_limit() -> None:
    _, msg = build(email(subject="s" * 800))
    assert len(msg["Subject"]) == 255 and msg["Subject"].endswith(" CRM:0001001")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_subject_adds_no_header(hostile: str) -> None:
    data, msg = build(email(subject=hostile))
    assert header_names(data) == BASE_HEADERS
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"] and msg["Bcc"] is None


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_display_name_adds_no_header(hostile: str) -> None:
    parties = [
        party(P.SENDER, "alice@example.test", hostile),
        party(P.TO_RECIPIENT, "carol@fabrikam.test", hostile),
        party(P.CC_RECIPIENT, "dan@contoso.test", hostile),
    ]
    data, msg = build(email(parties=parties))
    assert header_names(data) == ["from", "to", "cc", *BASE_HEADERS[2:]]
    assert msg["From"].addresses[0].addr_spec == "alice@example.test"
    assert [a.addr_spec for a in msg["To"].addresses] == ["carol@fabrikam.test"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_file_name_adds_no_header(hostile: str) -> None:
    data, msg = build(email(), attachments=[AttachmentData(hostile, "text/plain", b"x")])
    assert header_names(data) == BASE_HEADERS
    (part,) = msg.iter_attachments()
    assert set(part.keys()) == {"Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "MIME-Version"}


HOSTILE_ADDRESSES = [
    "carol@fabrikam.test\r\nBcc: x@evil.test",
    "carol@fabrikam.test\nBcc: x@evil.test",
    "carol @fabrikam.test",
    "carol",
    "@fabrikam.test",
    "carol@",
    "a@b@c",
    "=?utf-8?q?a=0D=0A?=@x.test",
    "carol@fab\x00rikam.test",
]


@pytest.mark.parametrize("address", HOSTILE_ADDRESSES)
def test_a_hostile_address_is_refused(address: str) -> None:
    with pytest.raises(ComposeError):
        build(email(parties=[party(P.SENDER, "alice@example.test"), party(P.TO_RECIPIENT, address)]))


def test_hostile_message_ids_are_dropped_not_written() -> None:
    data, msg = build(email(in_reply_to="<a@b>\r\nBcc: x@evil.test", references=["<a@b> <c@d>", "<x\r\n@y>"]))
    assert header_names(data) == BASE_HEADERS and msg["In-Reply-To"] is None
    with pytest.raises(ComposeError):
        build(email(message_id="<a@b>\r\nBcc: x@evil.test"))


def test_idna_domains_and_utf8_local_parts() -> None:
    assert mail_address("Jörg@Bücher.example") == "Jörg@xn--bcher-kva.example"
    parties = [party(P.SENDER, "alice@example.test"), party(P.TO_RECIPIENT, "jörg@bücher.example", "Jörg")]
    composed = compose(email(parties=parties), html=None, subject_limit=255, sent_on=NOW)
    assert composed.smtputf8 and composed.recipients == ("jörg@xn--bcher-kva.example",)
    assert not compose(email(), html=None, subject_limit=255, sent_on=NOW).smtputf8


def test_what_cannot_be_composed() -> None:
    with pytest.raises(ComposeError, match="no sender"):
        build(email(parties=[party(P.TO_RECIPIENT, "carol@fabrikam.test")]))
    with pytest.raises(ComposeError, match="no recipients"):
        build(email(parties=[party(P.SENDER, "alice@example.test")]))
    with pytest.raises(ComposeError, match="Message-ID"):
        build(email(message_id=None))


def test_message_ids_are_stable_and_use_the_sender_domain() -> None:
    assert message_id_for("e-1", "alice@Example.TEST") == "<e-1@example.test>"
    assert message_id_for("e-1", "not an address") == "<e-1@localhost>"


def test_header_text_breaks_encoded_words_and_lines() -> None:
    assert header_text(" a\r\nb ") == "a b"
    assert header_text("x =?utf-8?q?y?=") == "x =\u2060?utf-8?q?y?="
