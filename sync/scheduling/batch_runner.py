"""Running the work items of one ``mailbox-work`` message, each mailbox on its own.

A message with several items saves Queue requests, but the queue's retry and poison policy acts on whole
messages. So the items of a batch run concurrently and independently: an item whose run raises is sent
back as a message of its own (its retries and its poisoning then concern that mailbox alone), and the
others are not run again. A message of one item behaves as a message always did: its exception reaches the
host, which retries it. If the process dies mid-batch the whole message comes back; items already done
find their lease released and stop at once (``stale``), as any duplicate delivery does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sync.scheduling.work import WorkItem

R = TypeVar("R")
log = logging.getLogger(__name__)


def run_each(
    items: Sequence[WorkItem], run: Callable[[WorkItem], R], send_alone: Callable[[WorkItem], None]
) -> list[R | None]:
    """Run every item (concurrently when there are several); a failed one of several is sent on alone."""
    if len(items) == 1:
        return [run(items[0])]

    def guarded(item: WorkItem) -> R | None:
        try:
            return run(item)
        except Exception:
            log.exception("mailbox %s: its cycle failed; queued again on its own", item.mailbox_id)
            send_alone(item)  # if this fails too, the whole message is retried: done items are then stale
            return None

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(guarded, items))
