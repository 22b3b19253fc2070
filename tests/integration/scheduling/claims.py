"""The claim tests of both schedules: what a scheduler sends, recorded in place of its queues; tables of a
test's own; several claimers on the same rows at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

from sync.scheduling.claimer import Claimer, TickReport
from sync.scheduling.work import ShardWork, WorkBatch, WorkItem
from sync.settings import Settings
from sync.store import Store


class Sent:
    """Work items (alone or in batches) and claim messages for shards, as a scheduler sent them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[WorkItem | WorkBatch] = []
        self.shards: list[ShardWork] = []

    def item(self, item: WorkItem) -> None:
        with self.lock:
            self.messages.append(item)

    def batch(self, batch: WorkBatch) -> None:
        with self.lock:
            self.messages.append(batch)

    def shard(self, work: ShardWork) -> None:
        with self.lock:
            self.shards.append(work)

    def items(self) -> list[WorkItem]:
        return [i for m in self.messages for i in (m.items if isinstance(m, WorkBatch) else [m])]


def own_tables(settings: Settings, prefix: str) -> Store:
    """A store with tables of its own: a claim test reads whole shards of a due index."""
    own = settings.model_copy(update={"storage_prefix": prefix + uuid.uuid4().hex[:8]})
    fresh = Store.from_settings(own)
    fresh.account.ensure_created()
    return fresh


def claim_all_at_once(claimers: Sequence[tuple[Claimer, Sent]]) -> tuple[list[WorkItem], TickReport]:
    """Each claimer takes every shard of its due index at the same moment (a thread each), sending into its
    own :class:`Sent`; every work item sent, and the claimers' reports summed."""
    reports = [TickReport() for _ in claimers]
    start = threading.Barrier(len(claimers))

    def claim(n: int) -> None:
        claimer = claimers[n][0]
        start.wait()
        for shard in claimer.due_index.shards():
            reports[n].add(claimer.claim_shard(ShardWork(shard=shard, workload=claimer.rules.workload)))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(len(claimers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = TickReport()
    for report in reports:
        total.add(report)
    return [item for _, sent in claimers for item in sent.items()], total
