"""A minimal message value for pure stage tests (the parser's result has the same attributes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Addr:
    name: str
    address: str


@dataclass(frozen=True)
class Msg:
    subject: str = "Hello"
    from_: tuple[Addr, ...] = (Addr("Carol", "carol@fabrikam.test"),)
    to: tuple[Addr, ...] = (Addr("Alice", "alice@example.test"),)
    cc: tuple[Addr, ...] = ()
    date: datetime | None = None
    message_id: str | None = "<m1@fabrikam.test>"
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    thread_index: str | None = None
    auto_submitted: str | None = None
    precedence: str | None = None
    return_path: str | None = "<carol@fabrikam.test>"
    is_delivery_report: bool = False
    selected_headers: dict[str, str] = field(default_factory=dict)
