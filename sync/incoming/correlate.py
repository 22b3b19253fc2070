"""Correlation (spec §2.10, R-COR-1..7) — pure: which tracked email does this one belong to?

Methods in order, first hit wins: In-Reply-To (the Message-ID of a tracked email), tracking token in
the subject (every historical prefix), conversation index (Outlook's Thread-Index), smart matching when
the organization enables it (``smart.py``). The header methods
obey ``emailcorrelationenabled`` and ``IgnoreConversationIndexAndInReplyToForCorrelation``; forwards
skip In-Reply-To when ``DoNotCorrelateForwardedEmailsAsReplies``. The caller looks up the candidates
(:class:`Candidates`) with the keys this module computes; this module only decides.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import re
from dataclasses import dataclass, field

from sync.model.lookups import EmailSummary
from sync.model.options import CorrelationMethod, EmailDirection
from sync.model.organization import OrganizationSettings

SUBJECT_KEY_CHARS = 400  # enough to tell subjects apart; index rows stay far below Table limits
THREAD_INDEX_HEADER_BYTES = 22  # 1 reserved + 5 FILETIME + 16 GUID: identical across a conversation
_FORWARD = re.compile(r"^\s*(fw|fwd|wg|tr)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Candidates:
    """Tracked emails found by each method's key (empty when the key was absent or unmatched)."""

    by_in_reply_to: EmailSummary | None = None
    by_token: list[EmailSummary] = field(default_factory=list)
    by_conversation: list[EmailSummary] = field(default_factory=list)
    by_smart_match: EmailSummary | None = None


@dataclass(frozen=True)
class Correlation:
    method: CorrelationMethod = CorrelationMethod.NONE
    match: EmailSummary | None = None
    parent_activity_id: str | None = None
    subject_changed: bool = False

    @property
    def correlated(self) -> bool:
        return self.match is not None


def token_pattern(org: OrganizationSettings) -> re.Pattern[str]:
    """``<prefix>:<digits>`` for the current and every earlier prefix (R-COR-8/9)."""
    digits = 1 + org.tracking_token_id_digits + org.tracking_counter_digits
    prefixes = "|".join(re.escape(p) for p in org.all_tracking_prefixes())
    return re.compile(rf"(?<![\w:])(?:{prefixes}):\d{{{digits}}}(?!\d)", re.IGNORECASE)


def tracking_tokens(subject: str, org: OrganizationSettings) -> list[str]:
    """Tokens in the subject, last first (tokens are appended at the end, R-COR-13)."""
    return [m.group(0).upper() for m in reversed(list(token_pattern(org).finditer(subject or "")))]


def conversation_key(thread_index: str | None) -> str | None:
    """The conversation's identity from a Thread-Index header (base64): its first 22 bytes."""
    if not thread_index:
        return None
    try:
        raw = base64.b64decode(thread_index.strip(), validate=False)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < THREAD_INDEX_HEADER_BYTES:
        return None
    return hashlib.sha256(raw[:THREAD_INDEX_HEADER_BYTES]).hexdigest()


def subject_key(subject: str, org: OrganizationSettings) -> str:
    """The subject without reply/forward prefixes, tokens, case and spacing: to flag subject changes."""
    text = token_pattern(org).sub(" ", subject or "")
    with contextlib.suppress(re.error):  # a broken organization regex must not stop correlation
        text = re.sub(org.hash_filter_keywords, "", text, flags=re.IGNORECASE)
    return " ".join(text.lower().split())[:SUBJECT_KEY_CHARS]


def header_methods_enabled(org: OrganizationSettings) -> bool:
    return org.email_correlation_enabled and not org.ignore_conversation_index_and_in_reply_to


def correlate(subject: str, candidates: Candidates, org: OrganizationSettings) -> Correlation:
    own_subject = subject_key(subject, org)

    def found(method: CorrelationMethod, match: EmailSummary, parent: bool) -> Correlation:
        return Correlation(
            method=method,
            match=match,
            parent_activity_id=match.email_id if parent else None,
            subject_changed=bool(match.subject_key) and match.subject_key != own_subject,
        )

    headers = header_methods_enabled(org)
    skip_reply = org.do_not_correlate_forwarded_emails_as_replies and bool(_FORWARD.match(subject or ""))
    if headers and not skip_reply and candidates.by_in_reply_to is not None:
        return found(CorrelationMethod.IN_REPLY_TO, candidates.by_in_reply_to, parent=True)
    if candidates.by_token:  # the CRM put the token on an email it sent: prefer that one over tracked replies
        sent = [c for c in candidates.by_token if c.direction is EmailDirection.OUTGOING]
        return found(CorrelationMethod.TRACKING_TOKEN, (sent or candidates.by_token)[0], parent=False)
    if headers and candidates.by_conversation:
        return found(CorrelationMethod.CONVERSATION_INDEX, candidates.by_conversation[0], parent=True)
    if org.enable_smart_matching and candidates.by_smart_match is not None:
        return found(CorrelationMethod.SMART_MATCHING, candidates.by_smart_match, parent=False)
    return Correlation()
