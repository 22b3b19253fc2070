"""Microsoft To Do tasks as the canonical task fields of ACT sync, and back — pure.

Exchange Online's tasks are reached through To Do in Graph v1.0 (Outlook tasks have no v1.0 API). Where
To Do differs from an EWS task (``sync/mail/ews/act_items.py``):

- the status names are camel case (``notStarted``...); To Do has no percent complete, so it reads as 100
  for a completed task and 0 otherwise (the field syncs neither way, R-ACT-17);
- dates are ``dateTimeTimeZone`` values: the canonical UTC dates are written as midnights in UTC;
- To Do stamps ``completedDateTime`` itself when a task completes, so ``complete_date`` is read only;
- a task has no change key: its ``@odata.etag`` is one, and no single-value extended properties: the record
  stamp is a ``linkedResource`` (``applicationName`` ours, ``externalId`` the record).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, cast

from sync.act import fields as canonical

STATUS = {
    "NotStarted": "notStarted",
    "InProgress": "inProgress",
    "WaitingOnOthers": "waitingOnOthers",
    "Deferred": "deferred",
    "Completed": "completed",
}
STATUS_OF_TODO = {todo: ews for ews, todo in STATUS.items()}
DATES = {"due": "dueDateTime", "start": "startDateTime"}


def task_fields(task: Mapping[str, Any]) -> dict[str, object]:
    body = task.get("body") or {}
    status = STATUS_OF_TODO.get(str(task.get("status") or "notStarted"), "NotStarted")
    return {
        "subject": str(task.get("title") or "").strip(),
        "body": canonical.body_text(str(body.get("content") or "")),
        "due": _day(task.get("dueDateTime")),
        "start": _day(task.get("startDateTime")),
        "status": status,
        "percent_complete": 100 if status == "Completed" else 0,
        "complete_date": _day(task.get("completedDateTime")),
    }


def task_body(fields: Mapping[str, object], changed: Iterable[str]) -> dict[str, Any]:
    names = set(changed)
    body: dict[str, Any] = {}
    if "subject" in names:
        body["title"] = fields["subject"] or ""
    if "body" in names:
        body["body"] = {"contentType": "text", "content": fields["body"] or ""}
    if "status" in names:
        body["status"] = STATUS.get(str(fields["status"]), "notStarted")
    for name, prop in DATES.items():
        if name in names:
            value = cast(date | None, fields[name])
            body[prop] = {"dateTime": f"{value.isoformat()}T00:00:00", "timeZone": "UTC"} if value else None
    return body


def _day(value: Mapping[str, Any] | None) -> date | None:
    if not value or not value.get("dateTime"):
        return None
    return date.fromisoformat(str(value["dateTime"])[:10])
