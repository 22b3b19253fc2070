"""The ACT scheduler (R-SCH-7, R-ELIG-6): the user mailboxes whose appointment, contact and task sync is due.

The same design as the incoming scheduler (:mod:`sync.scheduling.claimer`): the ``schedule_act`` timer fans
the shards of the ACT due index (table ``ActDueIndex``) out as ``mailbox-claims`` messages of workload
``act``, claimers claim a page each (by the claim ticket the ACT worker left in the due row, or by reading)
and send the work items to ``act-work``, several per message. The ACT lease has fields of its own on the
mailbox row (``act_host_id``, ``act_lease_expires_on``, ``act_due_row_key``), so an ACT cycle and an
incoming cycle of the same mailbox never wait for each other; an expired one is broken, a mailbox no longer
eligible leaves the ACT schedule until :func:`schedule_act_now` puts it back.
"""

from __future__ import annotations

from datetime import datetime

from sync.model import Mailbox
from sync.model.fields import utcnow
from sync.scheduling.claim_rules import ACT
from sync.scheduling.claimer import Claimer
from sync.scheduling.work import WorkItem
from sync.store.due_index import DueIndex, row_key
from sync.store.store import Store


def schedule_act_now(store: Store, mailbox_id: str, now: datetime | None = None) -> Mailbox:
    """Put a mailbox on the ACT schedule, due now (after Test & Enable found ACT working)."""
    when = now or utcnow()
    before = store.get_mailbox(mailbox_id).act_due_row_key

    def due_now(mailbox: Mailbox) -> None:
        mailbox.act_due_row_key = row_key(mailbox.id, when)

    mailbox = store.mailboxes.modify(mailbox_id, "mailbox", due_now)
    store.act_due_index.move(mailbox_id, before, when)
    return mailbox


class ActScheduler(Claimer):
    """Claims the mailboxes whose ACT cycle is due (table ``ActDueIndex``)."""

    rules = ACT

    @staticmethod
    def index_of(store: Store) -> DueIndex:
        return store.act_due_index

    def claim(self, mailbox: Mailbox, now: datetime | None = None) -> WorkItem:
        """Take the ACT lease on ``mailbox`` (as read, ETag-checked) and send its work item (push, tools).

        Raises ConcurrencyConflict when the mailbox changed since it was read.
        """
        return self.claim_mailbox(mailbox, now)
