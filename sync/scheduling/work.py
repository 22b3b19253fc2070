"""The message a scheduler tick puts on the ``mailbox-work`` queue for one claimed mailbox."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sync.model.fields import Str36


class WorkItem(BaseModel):
    """Process ``mailbox_id`` under the lease ``lease_id`` (a stale lease id means: do nothing)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mailbox_id: Str36
    lease_id: Str36
    workload: str = Field(default="incoming", pattern="^(incoming|act)$")
