"""Email activities, read-only here: what was tracked, with its parties and correlation.

Creating and sending email belongs to the outgoing area's router.
"""

from fastapi import APIRouter

from sync.api.resources import Resource, Shape, crud_router
from sync.model import Email
from sync.model.options import EmailDirection, EmailStatus

SHAPE = Shape(Email)

RESOURCE = Resource(
    path="/emails",
    tag="emails",
    shape=SHAPE,
    repository=lambda store: store.emails,
    row_key="email",
    filters={"receiving_mailbox_id": str, "direction": EmailDirection, "status": EmailStatus},
    summary="Email activities, paged; filter by receiving mailbox, direction or status.",
    updatable=False,
)


def build_router() -> APIRouter:
    return crud_router(RESOURCE)
