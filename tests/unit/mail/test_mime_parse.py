"""parse_message on small hand-written messages: one behaviour per test."""

from __future__ import annotations

import base64
from datetime import timedelta

from sync.mail.mime import summary

from .mime_corpus import parse

HEAD = b"From: Carol <carol@fabrikam.test>\nTo: Alice <alice@example.test>\nSubject: Hi\n"

ALTERNATIVE = HEAD + (
    b'Content-Type: multipart/alternative; boundary="alt"\n\n'
    b"--alt\nContent-Type: text/plain; charset=utf-8\n\nplain text\n"
    b'--alt\nContent-Type: text/html; charset="iso-8859-1"\nContent-Transfer-Encoding: quoted-printable\n\n'
    b"<p>caf=E9</p>\n--alt--\n"
)

RELATED = HEAD + (
    b'Content-Type: multipart/related; boundary="rel"\n\n'
    b'--rel\nContent-Type: text/html\n\n<img src="cid:logo@x">\n'
    b"--rel\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
    b'--rel\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="report.pdf"\n\n%PDF\n'
    b"--rel--\n"
)

RFC2231 = HEAD + (
    b'Content-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/plain\n\nsee attached\n'
    b"--m\nContent-Type: application/octet-stream\n"
    b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates.txt\n\nx\n"
    b"--m\nContent-Type: application/octet-stream\n"
    b"Content-Disposition: attachment;\n filename*0*=iso-8859-1''r%E9sum;\n filename*1=\"e.doc\"\n\nx\n"
    b'--m\nContent-Type: application/octet-stream; name="=?utf-8?q?na=C3=AFve=2Etxt?="\n\nx\n'
    b'--m\nContent-Type: text/plain; name="C:\\\\Users\\\\bob\\\\notes.txt"\n\nx\n'
    b"--m\nContent-Type: image/gif\nContent-Disposition: attachment\n\nGIF89a\n--m--\n"
)

DSN = (
    b"From: MAILER-DAEMON@mx.example.test\nTo: carol@fabrikam.test\nSubject: Undelivered\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n\n'
    b"--r\nContent-Type: text/plain\n\nfailed\n"
    b"--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; x@y\n"
    b"Action: failed\nStatus: 5.1.1\n\n--r--\n"
)

EMBEDDED = HEAD + (
    b'Content-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/plain\n\nFYI\n'
    b"--m\nContent-Type: message/rfc822\n\nFrom: Dave <dave@contoso.test>\nTo: carol@fabrikam.test\n"
    b"Subject: Original\nMessage-ID: <orig@contoso.test>\n\nThe original body.\n--m--\n"
)

THREADED = (
    b"From: a@example.test\nTo: b@example.test\nSubject: Re: plan\nMessage-ID: <3@example.test>\n"
    b"In-Reply-To: <2@example.test> (Bob's message)\nReferences: <1@example.test>\n <2@example.test>\n"
    b"Thread-Index: AdcQ3Jx1\n AAAAAA==\nThread-Topic: plan\nAuto-Submitted: auto-replied\n"
    b"X-Auto-Response-Suppress: All\nPrecedence: bulk\nList-Id: <team.example.test>\n"
    b"Reply-To: Team <team@example.test>\nReturn-Path: <a@example.test>\n"
    b"Date: Mon, 13 Aug 2018 17:42:41 +1000\n\nbody\n"
)


def test_subject_decoded() -> None:
    assert parse(b"From: a@example.test\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n\nx").subject == "Grüße"


def test_subject_missing_is_empty() -> None:
    assert parse(b"From: a@example.test\n\nx").subject == ""


def test_from_parsed() -> None:
    assert parse(HEAD + b"\nx").from_[0].address == "carol@fabrikam.test"


def test_missing_from_is_a_defect() -> None:
    assert "missing From" in parse(b"To: a@example.test\n\nx").defects


def test_repeated_to_headers_joined() -> None:
    assert len(parse(b"From: a@example.test\nTo: b@example.test\nTo: c@example.test\n\nx").to) == 2


def test_plain_body() -> None:
    assert parse(ALTERNATIVE).text_body == "plain text"  # the newline before a boundary belongs to it


def test_html_body_with_declared_charset() -> None:
    assert parse(ALTERNATIVE).html_body == "<p>café</p>"


def test_alternative_has_no_attachments() -> None:
    assert parse(ALTERNATIVE).attachments == []


def test_crlf_message() -> None:
    assert parse(ALTERNATIVE.replace(b"\n", b"\r\n")).text_body == "plain text"


def test_inline_image_with_content_id() -> None:
    image = parse(RELATED).attachments[0]
    assert (image.content_id, image.is_inline, image.data[:4]) == ("logo@x", True, b"\x89PNG")


def test_disposition_attachment_not_inline() -> None:
    assert parse(RELATED).attachments[1].is_inline is False


def test_generated_name_for_unnamed_image() -> None:
    assert parse(RELATED).attachments[0].file_name == "attachment-1.png"


def test_attachment_size_is_decoded_size() -> None:
    assert parse(RELATED).attachments[0].size == 8


def test_rfc2231_utf8_filename() -> None:
    assert parse(RFC2231).attachments[0].file_name == "€ rates.txt"


def test_rfc2231_continued_filename() -> None:
    assert parse(RFC2231).attachments[1].file_name == "résume.doc"


def test_rfc2047_filename() -> None:
    assert parse(RFC2231).attachments[2].file_name == "naïve.txt"


def test_directory_stripped_from_filename() -> None:
    assert parse(RFC2231).attachments[3].file_name == "notes.txt"


def test_named_text_part_is_an_attachment_not_a_body() -> None:
    assert parse(RFC2231).text_body == "see attached"


def test_generated_name_uses_type() -> None:
    assert parse(RFC2231).attachments[4].file_name == "attachment-5.gif"


def test_second_plain_part_kept_as_attachment() -> None:
    raw = HEAD + (
        b'Content-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/plain\n\none\n'
        b"--m\nContent-Type: image/png\n\nPNG\n--m\nContent-Type: text/plain\n\ntwo\n--m--\n"
    )
    assert [a.file_name for a in parse(raw).attachments] == ["attachment-1.png", "attachment-2.txt"]


def test_dsn_detected_from_report_type() -> None:
    assert parse(DSN).is_delivery_report is True


def test_delivery_status_part_alone_detected() -> None:
    raw = DSN.replace(b"multipart/report; report-type=delivery-status", b"multipart/mixed")
    assert parse(raw).is_delivery_report is True


def test_ordinary_message_not_a_report() -> None:
    assert parse(ALTERNATIVE).is_delivery_report is False


def test_read_receipt_not_a_delivery_report() -> None:
    raw = DSN.replace(b"delivery-status", b"disposition-notification")
    assert parse(raw).is_delivery_report is False


def test_delivery_status_kept_whole_as_attachment() -> None:
    data = parse(DSN).attachments[0].data
    assert (b"Reporting-MTA: dns; mx" in data, b"Status: 5.1.1" in data) == (True, True)


def test_delivery_status_is_not_an_embedded_message() -> None:
    assert parse(DSN).embedded_messages == []


def test_multipart_without_boundary_read_as_text() -> None:
    raw = b"From: a@example.test\nContent-Type: multipart/mixed\n\nJust text.\n"
    assert parse(raw).text_body == "Just text.\n"


def test_embedded_message_bytes_listed() -> None:
    assert len(parse(EMBEDDED).embedded_messages) == 1


def test_embedded_message_parses_back() -> None:
    inner = parse(parse(EMBEDDED).embedded_messages[0])
    assert (inner.subject, inner.from_[0].address, inner.message_id) == (
        "Original",
        "dave@contoso.test",
        "<orig@contoso.test>",
    )


def test_embedded_message_is_also_an_attachment() -> None:
    assert [(a.file_name, a.content_type) for a in parse(EMBEDDED).attachments] == [("Original.eml", "message/rfc822")]


def test_embedded_message_not_descended_for_body() -> None:
    assert parse(EMBEDDED).text_body == "FYI"


def test_base64_encoded_embedded_message_decoded() -> None:
    inner = b"From: x@example.test\r\nSubject: inner\r\n\r\nhello\r\n"
    raw = HEAD + (
        b'Content-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: message/rfc822\n'
        b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(inner) + b"--m--\n"
    )
    assert parse(parse(raw).embedded_messages[0]).subject == "inner"


def test_message_id() -> None:
    assert parse(THREADED).message_id == "<3@example.test>"


def test_in_reply_to_first_msg_id() -> None:
    assert parse(THREADED).in_reply_to == "<2@example.test>"


def test_references_in_order() -> None:
    assert parse(THREADED).references == ["<1@example.test>", "<2@example.test>"]


def test_thread_index_unfolded_raw_base64() -> None:
    assert parse(THREADED).thread_index == "AdcQ3Jx1AAAAAA=="


def test_thread_topic() -> None:
    assert parse(THREADED).thread_topic == "plan"


def test_auto_reply_indicators() -> None:
    p = parse(THREADED)
    assert (p.auto_submitted, p.precedence, p.x_auto_response_suppress, p.list_id) == (
        "auto-replied",
        "bulk",
        "All",
        "<team.example.test>",
    )


def test_selected_headers_keep_auto_submitted_and_reply_to() -> None:
    selected = parse(THREADED).selected_headers
    assert (selected["Auto-Submitted"], selected["Reply-To"]) == ("auto-replied", "Team <team@example.test>")


def test_reply_to_addresses() -> None:
    assert parse(THREADED).reply_to[0].address == "team@example.test"


def test_return_path() -> None:
    assert parse(THREADED).return_path == "<a@example.test>"


def test_date_keeps_its_zone() -> None:
    date = parse(THREADED).date
    assert date is not None and date.utcoffset() == timedelta(hours=10)


def test_size_is_raw_length() -> None:
    assert parse(THREADED).size == len(THREADED)


def test_content_type_of_top_part() -> None:
    assert parse(RELATED).content_type == "multipart/related"


def test_python_defects_reported_by_name() -> None:
    assert "MissingHeaderBodySeparatorDefect" in parse(b"From: a@example.test\nnot a header\n\nbody").defects


def test_empty_input_does_not_raise() -> None:
    assert parse(b"").defects == ["missing From"]


def test_binary_garbage_does_not_raise() -> None:
    assert parse(bytes(range(256)) * 50).headers_only is False


def test_summary_is_json_ready() -> None:
    s = summary(parse(RELATED))
    assert (s["subject"], [a["file_name"] for a in s["attachments"]], s["embedded_messages"]) == (
        "Hi",
        ["attachment-1.png", "report.pdf"],
        0,
    )
