"""The messages of the scheduler's queues.

- ``mailbox-claims``: :class:`ShardWork`, one due-index shard (or the rest of one, after a page) to claim,
  of the incoming or the ACT schedule (``workload``); a timer sends one per shard, a claimer that finds more
  than a page sends the rest on, so claiming spreads over as many instances as there are pages due.
- ``mailbox-work`` and ``act-work``: a :class:`WorkItem` (one claimed mailbox) or a :class:`WorkBatch`
  (several, from one claimed page: one Queue request instead of one per mailbox; the handler runs each
  item on its own).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from sync.model.fields import Str36

MAX_ITEMS_PER_MESSAGE = 32  # about 3 KB of JSON: far under the 64 KiB a queue message may hold


WORKLOAD = "^(incoming|act)$"


class WorkItem(BaseModel):
    """Process ``mailbox_id`` under the lease ``lease_id`` (a stale lease id means: do nothing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mailbox_id: Str36
    lease_id: Str36
    workload: str = Field(default="incoming", pattern=WORKLOAD)


class WorkBatch(BaseModel):
    """Several claimed mailboxes in one queue message; each item keeps its own lease."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[WorkItem] = Field(min_length=1, max_length=MAX_ITEMS_PER_MESSAGE)


class ShardWork(BaseModel):
    """Claim the due mailboxes of ``shard`` of ``workload``'s due index, from ``continuation`` on (None: from its
    start). A message without ``workload`` is an incoming one (as the queue's messages were before ACT shared it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shard: str = Field(pattern="^s[0-9]{2}$")
    continuation: dict[str, Any] | None = None
    workload: str = Field(default="incoming", pattern=WORKLOAD)


_WORK = TypeAdapter(WorkBatch | WorkItem)


def parse_work(body: bytes | str) -> list[WorkItem]:
    """The work items of a ``mailbox-work`` message, in either form (raises ValidationError if neither)."""
    parsed = _WORK.validate_json(body)
    return list(parsed.items) if isinstance(parsed, WorkBatch) else [parsed]
