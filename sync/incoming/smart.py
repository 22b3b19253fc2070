"""Smart matching (R-COR-15..19) — pure: correlate by subject words and shared addresses.

Off by default (``enablesmartmatching``). Each tracked email gets hashes of its subject words (after the
organization's ``hashfilterkeywords`` regex strips ``RE:``/``FW:`` prefixes; tokens and case ignored; at
most ``hashmaxcount``) and of its addresses (From, To, Cc; at most ``hashmaxcount``). A new email matches
a tracked one when their subject hashes are the same set and at least ``hashminaddresscount`` address
hashes are shared, within the last 90 days (R-COR-19).

The index keys candidates by the subject signature (the sorted subject hashes), so finding them is one
partition read. That makes the match exact on subjects: ``hashdeltasubjectcount`` values above 0 (some
differing words allowed) are not supported and behave as 0.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sync.incoming.correlate import token_pattern
from sync.model.fields import normalize_address
from sync.model.lookups import EmailSummary, SmartCandidate
from sync.model.organization import OrganizationSettings

WINDOW = timedelta(days=90)  # R-COR-19
_WORD = re.compile(r"\w+", re.UNICODE)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def subject_hashes(subject: str, org: OrganizationSettings) -> list[str]:
    text = token_pattern(org).sub(" ", subject or "")
    with contextlib.suppress(re.error):  # a broken organization regex must not stop correlation
        text = re.sub(org.hash_filter_keywords, "", text, flags=re.IGNORECASE)
    words = [w.casefold() for w in _WORD.findall(text)]
    return sorted({_hash(w) for w in words})[: org.hash_max_count]


def subject_signature(subject: str, org: OrganizationSettings) -> str | None:
    """The index key: one value per set of subject words; None when the subject has no words."""
    hashes = subject_hashes(subject, org)
    return _hash("|".join(hashes)) if hashes else None


def address_hashes(addresses: Iterable[str], org: OrganizationSettings) -> list[str]:
    unique = sorted({normalize_address(a) for a in addresses if a})
    return [_hash(a) for a in unique][: org.hash_max_count]


def smart_match(
    own_address_hashes: Sequence[str], candidates: Sequence[SmartCandidate], org: OrganizationSettings, now: datetime
) -> EmailSummary | None:
    """The most recent candidate sharing enough addresses, or None."""
    own = set(own_address_hashes)
    matching = [
        c
        for c in candidates
        if now - c.created_on <= WINDOW and len(own & set(c.address_hashes)) >= org.hash_min_address_count
    ]
    return max(matching, key=lambda c: c.created_on).summary if matching else None
