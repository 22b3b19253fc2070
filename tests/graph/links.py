"""Delta state tokens: what the ``$skiptoken`` of a nextLink or the ``$deltatoken`` of a deltaLink stands for.

Graph's tokens are opaque to clients and so are these: base64url JSON of a position in a change log (see
``state.py``). A ``$skiptoken`` is a page within a round (``until`` fixed when the round started, ``offset``
into it); a ``$deltatoken`` is where the next round starts. Both carry the ``$select`` of the first request,
as Graph encodes query options into its links, and the epoch that ``expire_delta_links`` moves on.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field

HIERARCHY = "hierarchy"  # the scope of mailFolders/delta; message rounds are scoped by folder id


@dataclass(frozen=True)
class DeltaToken:
    scope: str
    since: int
    until: int | None = None  # None for a $deltatoken
    offset: int = 0
    select: tuple[str, ...] = field(default=())
    epoch: int = 0


def encode(token: DeltaToken) -> str:
    raw = json.dumps(asdict(token), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str) -> DeltaToken:
    """The token back; ValueError for anything this server did not issue."""
    try:
        fields = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return DeltaToken(
            scope=str(fields["scope"]),
            since=int(fields["since"]),
            until=None if fields["until"] is None else int(fields["until"]),
            offset=int(fields["offset"]),
            select=tuple(str(name) for name in fields["select"]),
            epoch=int(fields["epoch"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a delta token of this server: {text[:40]!r}") from exc
