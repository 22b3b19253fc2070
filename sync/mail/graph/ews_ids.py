"""How Graph may spell an item id that EWS gave — pure.

Graph's REST ids are EWS ids made URL-safe: the same base64 text with ``/`` and ``+`` replaced (Outlook's
``convertToRestId`` converts in the client, with no request). Graph's ``translateExchangeIds`` would say for
sure, but it takes delegated permissions only, and the service runs with application permissions. So both
URL-safe spellings are candidates and Graph itself tells which item exists (``GraphActMailbox.own_ids``).
"""

from __future__ import annotations


def needs_spelling(ews_id: str) -> bool:
    """Whether Graph spells the id otherwise: only ``/`` and ``+`` are not URL-safe."""
    return "/" in ews_id or "+" in ews_id


def rest_spellings(ews_id: str) -> tuple[str, ...]:
    """The candidates, without repeats: one when the id has neither ``/`` nor ``+`` (it is its own REST id)."""
    slash_to_dash = ews_id.replace("/", "-").replace("+", "_")
    plus_to_dash = ews_id.replace("+", "-").replace("/", "_")
    return tuple(dict.fromkeys((slash_to_dash, plus_to_dash)))
