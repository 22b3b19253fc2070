import base64

from sync.incoming.correlate import Candidates, conversation_key, correlate, subject_key, tracking_tokens
from sync.model.lookups import EmailSummary
from sync.model.options import CorrelationMethod, EmailDirection
from sync.model.organization import OrganizationSettings

ORG = OrganizationSettings()
A = EmailSummary(email_id="a", subject_key="quote")
B = EmailSummary(email_id="b", subject_key="quote")
C = EmailSummary(email_id="c", subject_key="quote")


def test_in_reply_to_wins_and_sets_parent() -> None:
    result = correlate("RE: Quote", Candidates(by_in_reply_to=A, by_token=[B], by_conversation=[C]), ORG)
    assert (result.method, result.match, result.parent_activity_id) == (CorrelationMethod.IN_REPLY_TO, A, "a")


def test_token_second_without_parent() -> None:
    result = correlate("RE: Quote CRM:0010001", Candidates(by_token=[B], by_conversation=[C]), ORG)
    assert (result.method, result.match, result.parent_activity_id) == (CorrelationMethod.TRACKING_TOKEN, B, None)


def test_conversation_index_third() -> None:
    result = correlate("Quote", Candidates(by_conversation=[C]), ORG)
    assert (result.method, result.parent_activity_id) == (CorrelationMethod.CONVERSATION_INDEX, "c")


def test_nothing_found() -> None:
    assert not correlate("Quote", Candidates(), ORG).correlated


def test_header_methods_off_when_correlation_disabled() -> None:
    org = OrganizationSettings(email_correlation_enabled=False)
    result = correlate("Quote", Candidates(by_in_reply_to=A, by_token=[B], by_conversation=[C]), org)
    assert result.method is CorrelationMethod.TRACKING_TOKEN
    assert not correlate("Quote", Candidates(by_in_reply_to=A, by_conversation=[C]), org).correlated


def test_forwards_skip_in_reply_to_when_configured() -> None:
    org = OrganizationSettings(do_not_correlate_forwarded_emails_as_replies=True)
    assert not correlate("FW: Quote", Candidates(by_in_reply_to=A), org).correlated
    assert correlate("RE: Quote", Candidates(by_in_reply_to=A), org).correlated


def test_subject_change_is_flagged() -> None:
    assert correlate("RE: Something else", Candidates(by_in_reply_to=A), ORG).subject_changed
    assert not correlate("RE: FW: quote", Candidates(by_in_reply_to=A), ORG).subject_changed


def test_tokens_found_with_every_historical_prefix() -> None:
    org = OrganizationSettings()
    org.change_tracking_prefix("TKT")
    assert tracking_tokens("Re: a CRM:0010001 b TKT:0020002", org) == ["TKT:0020002", "CRM:0010001"]


def test_token_digit_count_must_match() -> None:
    assert tracking_tokens("CRM:001000 and CRM:00100011 and XCRM:0010001", ORG) == []


def test_subject_key_strips_prefixes_tokens_and_case() -> None:
    assert subject_key("RE: FW:  Quote   Request CRM:0010001", ORG) == "quote request"


def test_conversation_key_uses_the_first_22_bytes() -> None:
    head = bytes(range(22))
    first = base64.b64encode(head).decode()
    reply = base64.b64encode(head + b"\x01\x02\x03\x04\x05").decode()
    assert conversation_key(first) == conversation_key(reply) is not None
    assert conversation_key(base64.b64encode(b"short").decode()) is None
    assert conversation_key("!!not base64!!") is None


def test_subject_key_is_bounded() -> None:
    assert len(subject_key("word " * 20_000, ORG)) == 400


def test_a_token_prefers_the_email_the_crm_sent_over_tracked_replies() -> None:
    reply = EmailSummary(email_id="reply", direction=EmailDirection.INCOMING)
    sent = EmailSummary(email_id="sent", direction=EmailDirection.OUTGOING)
    assert correlate("RE: x CRM:0001001", Candidates(by_token=[reply, sent]), ORG).match == sent
