"""Read the facts an explanation needs (:mod:`sync.insights.explain`), with the pipeline's own lookups.

The owner's filtering method comes from :class:`~sync.incoming.directory.CycleDirectory` (as a cycle reads it)
and the sender's record from :func:`~sync.incoming.resolve.resolve_sender` over the address index (as a cycle
resolves it), so an explanation says what the pipeline would decide today. One reader serves a page or a
search: each mailbox, owner and sender address is read once.
"""

from __future__ import annotations

from sync.incoming.directory import CycleDirectory
from sync.incoming.reasons import Reason
from sync.incoming.resolve import resolve_sender
from sync.insights.explain import Explanation, Facts, explain
from sync.model import ItemFailure, Mailbox, OrganizationSettings
from sync.model.options import EntityType
from sync.settings import Settings
from sync.store.store import Store


def _reason(failure: ItemFailure) -> Reason:
    try:
        return Reason(failure.reason_code)
    except ValueError:
        return Reason.UNKNOWN


class Explainer:
    """Explains item failures of any mailboxes; caches what it reads for its own lifetime (one request)."""

    def __init__(self, store: Store, settings: Settings, org: OrganizationSettings | None = None) -> None:
        self.store = store
        self.settings = settings
        self.org = org or store.get_organization()
        self.directory = CycleDirectory(store)
        self._mailboxes: dict[str, Mailbox | None] = {}

    def mailbox(self, mailbox_id: str) -> Mailbox | None:
        if mailbox_id not in self._mailboxes:
            self._mailboxes[mailbox_id] = self.store.find_mailbox(mailbox_id)
        return self._mailboxes[mailbox_id]

    def facts(self, failure: ItemFailure) -> Facts:
        mailbox = self.mailbox(failure.mailbox_id)
        owner = mailbox.owner if mailbox else None
        record = self.directory.record(owner) if owner else None
        acceptor = self.directory.acceptor(owner) if owner else None
        owner_user = owner.id if owner and owner.type is EntityType.SYSTEM_USER else None
        sender = None
        if failure.sender:
            matches = self.directory.matches(failure.sender)
            sender = resolve_sender(failure.sender, "", matches, self.org, owner_user).party.party
        return Facts(
            reason=_reason(failure),
            org=self.org,
            owner=owner,
            owner_name=record.display_name if record else "the mailbox's owner",
            owner_method=acceptor.filtering_method if acceptor else None,
            sender_address=failure.sender,
            sender=sender,
            details=failure.details,
            retry_on=failure.retry_on,
            max_incoming_bytes=self.settings.max_incoming_email_bytes,
        )

    def explain(self, failure: ItemFailure) -> Explanation:
        return explain(self.facts(failure))
