"""The user's answer to a scheduling-conflict question (R-ACT-24): save the appointment anyway, or drop it.

Tracking an Outlook appointment that overlaps one of the user's busy appointments is held
(``sync/act/cycle.py``) and the user is asked, as Dynamics' alert does with its Yes/No actions. The answer is
stored on the held conflict; the mailbox's next ACT cycle acts on it (Yes: the appointment is created, No: it
is dropped) and then forgets the conflict. An answer may change until that cycle has acted. Once every held
conflict of the mailbox is answered, its ``ExchangeSyncSchedulingConflictsError`` alert is dismissed: the
question it asked has its answers (a new conflict raises it again).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

from sync.errors import NotFound
from sync.health.alerts import CODE_SCHEDULING_CONFLICT
from sync.model import Alert, SchedulingConflict
from sync.store.act_links import conflict_key
from sync.store.schema import alert_row_key
from sync.store.store import Store


class SchedulingConflicts:
    """The held scheduling conflicts of a mailbox and their answers."""

    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now

    def of(self, mailbox_id: str) -> list[SchedulingConflict]:
        """The mailbox's conflicts (answered ones too, until the next cycle acts on them)."""
        self.store.get_mailbox(mailbox_id)  # NotFound for an unknown mailbox
        return sorted(self.store.act_links.conflicts_of(mailbox_id), key=lambda c: (c.created_on, c.id))

    def answer(self, mailbox_id: str, conflict_id: str, *, save_anyway: bool) -> SchedulingConflict:
        """Record the user's decision; the next ACT cycle of the mailbox carries it out."""
        held = next((c for c in self.of(mailbox_id) if c.id == conflict_id), None)
        if held is None:
            raise NotFound(f"no scheduling conflict {conflict_id} waits for an answer in mailbox {mailbox_id}")

        def decide(stored: SchedulingConflict) -> None:
            stored.decision, stored.decided_on = save_anyway, self.now()

        answered = self.store.act_links.conflicts.modify(mailbox_id, conflict_key(held.exchange_entry_id), decide)
        if all(c.decision is not None for c in self.store.act_links.conflicts_of(mailbox_id)):
            self._dismiss_question(mailbox_id)
        return answered

    def _dismiss_question(self, mailbox_id: str) -> None:
        def dismiss(alert: Alert) -> None:
            alert.dismissed = True

        with contextlib.suppress(NotFound):  # no alert: the alert level may be off (R-ERR-15)
            self.store.alerts.modify(mailbox_id, alert_row_key(CODE_SCHEDULING_CONFLICT), dismiss)
