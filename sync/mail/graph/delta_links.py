"""Whether a folder state kept in a watermark is one of Graph's delta links — pure.

A profile moved from EWS to Graph leaves EWS sync states in its mailboxes' watermarks (mail folders, the
folder hierarchy, ACT folders). Sent to Graph as a link, such a state asks for a resource that does not
exist: a permanent error that would disable the mailbox. Anything that is not a Graph link starts a new
round instead, as an expired link does.
"""

from __future__ import annotations

from typing import TypeGuard


def is_delta_link(state: str | None) -> TypeGuard[str]:
    return state is not None and state.lower().startswith(("https://", "http://"))
