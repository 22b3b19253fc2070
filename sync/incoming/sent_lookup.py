"""The email the CRM sent under a Message-ID: named by the Message-ID itself, else by the MessageIndex.

SendEmail writes no index row for a Message-ID it made (``sync/outgoing/message_ids.py``): the Message-ID
names the email, which one point read finds. The MessageIndex is the fallback: its rows were written for
emails sent before, and for an email whose Message-ID is not of our shape. A Message-ID that only looks like
ours (no such email, or an email with another Message-ID) costs that one read and goes on to the fallback.
"""

from __future__ import annotations

from sync.incoming.correlate import subject_key
from sync.incoming.dedupe import message_key
from sync.model import Email, OrganizationSettings
from sync.model.lookups import EmailSummary
from sync.outgoing.message_ids import email_id_named_by, same_message_id
from sync.store.store import Store


def summary_of(email: Email, org: OrganizationSettings) -> EmailSummary:
    """What correlation needs of a stored email."""
    return EmailSummary(
        email_id=email.id,
        regarding=email.regarding,
        owner=email.owner,
        subject_key=subject_key(email.subject, org),
        direction=email.direction,
    )


def named_email(store: Store, message_id: str | None) -> Email | None:
    """The email a Message-ID of our shape names and that carries it; None (at most one read) otherwise."""
    email_id = email_id_named_by(message_id)
    if email_id is None:
        return None
    email = store.emails.find(email_id, "email")
    return email if email is not None and same_message_id(email.message_id, message_id) else None


def indexed_email(store: Store, message_id: str) -> EmailSummary | None:
    """The MessageIndex row of a Message-ID (SendEmail wrote one for every email before they named it)."""
    claim = store.message_index.find(message_key(message_id, b""))
    return claim.summary if claim is not None else None


def find_sent(store: Store, message_id: str, org: OrganizationSettings) -> EmailSummary | None:
    """The email the CRM sent with ``message_id``: the email it names, else the MessageIndex's."""
    named = named_email(store, message_id)
    return summary_of(named, org) if named is not None else indexed_email(store, message_id)
