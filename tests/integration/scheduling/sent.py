"""What a scheduler sends, recorded in place of its queues (the claim tests of both schedules share it)."""

from __future__ import annotations

import threading

from sync.scheduling.work import ShardWork, WorkBatch, WorkItem


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
