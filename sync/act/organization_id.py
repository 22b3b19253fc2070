"""This deployment's organization id (R-TE-7): generated once, the first time a mailbox is claimed for ACT.

Two workers may need it at the same moment; the settings row is written only if unchanged since read (insert if
absent, update with its ETag), and the loser of a race reads the winner's id, so there is only ever one.
"""

from __future__ import annotations

import uuid

from sync.errors import AlreadyExists, ConcurrencyConflict
from sync.store.store import Store

ATTEMPTS = 10


def organization_id(store: Store) -> str:
    for _ in range(ATTEMPTS):
        org = store.get_organization()
        if org.organization_id:
            return org.organization_id
        org.organization_id = str(uuid.uuid4())
        try:
            saved = store.organization.update(org) if org.etag else store.organization.insert(org)
        except (ConcurrencyConflict, AlreadyExists):
            continue  # someone else wrote the row: read theirs
        assert saved.organization_id is not None
        return saved.organization_id
    raise ConcurrencyConflict("the organization settings kept changing while generating the organization id")
