"""Why was this email not tracked? Search every mailbox by sender, Message-ID or subject, through the index.

Cost per search: one query of the :class:`~sync.store.not_tracked_index.NotTrackedIndex` partition (a page per
1,000 hits), then per hit one point read of its failure (so a failure removed since answers nothing) and, once
per mailbox, the reads of its explanation (mailbox, owner, sender's addresses): never a scan, whatever the
number of mailboxes. A search with several criteria looks up the most selective and checks the others on the
failures it read.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.errors import ValidationFailed
from sync.insights.explain import Explanation
from sync.insights.facts import Explainer
from sync.model import ItemFailure
from sync.store.not_tracked_index import SearchKey, normalize

SELECTIVITY = (SearchKey.MESSAGE_ID, SearchKey.SENDER, SearchKey.SUBJECT)  # the first one given is looked up
MAX_HITS = 200


class NoCriterion(ValidationFailed):
    """A search needs a sender, a Message-ID or a subject."""


@dataclass(frozen=True)
class NotTrackedHit:
    failure: ItemFailure
    mailbox_name: str | None
    explanation: Explanation


def _value(failure: ItemFailure, kind: SearchKey) -> str:
    found = {SearchKey.SENDER: failure.sender, SearchKey.MESSAGE_ID: failure.message_id}.get(kind, failure.subject)
    return normalize(kind, found or "")


def search(explainer: Explainer, criteria: dict[SearchKey, str], *, limit: int = 50) -> list[NotTrackedHit]:
    """The failures matching every non-empty criterion, newest first, each with its mailbox and explanation."""
    wanted = {kind: normalize(kind, value) for kind, value in criteria.items() if value and normalize(kind, value)}
    if not wanted:
        raise NoCriterion("give a sender, a Message-ID or a subject", field="query")
    lookup = next(kind for kind in SELECTIVITY if kind in wanted)
    store = explainer.store
    hits: list[NotTrackedHit] = []
    for found in store.not_tracked_index.find(lookup, criteria[lookup], limit=min(limit, MAX_HITS)):
        failure = store.item_failures.find(found.mailbox_id, found.row_key)
        if failure is None or any(_value(failure, kind) != value for kind, value in wanted.items()):
            continue
        mailbox = explainer.mailbox(failure.mailbox_id)
        hits.append(NotTrackedHit(failure, mailbox.name if mailbox else None, explainer.explain(failure)))
    hits.sort(key=lambda h: h.failure.received_on or h.failure.created_on, reverse=True)
    return hits
