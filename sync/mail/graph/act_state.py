"""The ACT port's per-folder state through Graph: the delta link to go on with, and the day its round began — pure.

Written ``graph|<day the round began>|<link>``. The prefix tells a Graph state from an EWS sync state left by
a profile that used EWS before: such a state starts a full round rather than being sent to Graph. The day
tells when a calendarView window, fixed when its round began, has to move on (``act.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sync.mail.graph.delta_links import is_delta_link

PREFIX = "graph"


@dataclass(frozen=True)
class DeltaState:
    link: str  # the @odata.nextLink or @odata.deltaLink to follow
    began: date  # the day the round that issued the link started from scratch


def encode(state: DeltaState) -> str:
    return f"{PREFIX}|{state.began.isoformat()}|{state.link}"


def decode(text: str | None) -> DeltaState | None:
    """The state, or None for nothing or anything that is not a Graph state of ours (a full round then)."""
    parts = (text or "").split("|", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not is_delta_link(parts[2]):
        return None
    try:
        return DeltaState(parts[2], date.fromisoformat(parts[1]))
    except ValueError:
        return None
