"""``t:Task``: the properties of a task, in the order of types.xsd.

Status, PercentComplete and CompleteDate are kept consistent by ``item_kinds`` (a completed task is 100 %
done and has a CompleteDate); IsComplete and StatusDescription are read from them, as Exchange reports them.
DueDate and StartDate are kept as the instants the client sent.
"""

from __future__ import annotations

from tests.ews.codecs import Integer, Number, RecurrenceCodec, Strings, Text, Timestamp
from tests.ews.item_kinds import COMPLETED
from tests.ews.item_schema import ITEM_PROPERTIES, Computed, Schema, Stored
from tests.ews.shapes import text_property

# Status -> StatusDescription, the text Outlook shows
STATUS_TEXT = {
    "NotStarted": "Not Started",
    "InProgress": "In Progress",
    "Completed": "Completed",
    "WaitingOnOthers": "Waiting on someone else",
    "Deferred": "Deferred",
}

SCHEMA = Schema(
    "Task",
    (
        *ITEM_PROPERTIES,
        Stored("task:ActualWork", "actual_work", Integer()),
        Stored("task:BillingInformation", "billing_information", Text()),
        Stored("task:Companies", "companies", Strings()),
        Computed("task:CompleteDate", text_property("t:CompleteDate", lambda i: i.extra.get("complete_date"))),
        Stored("task:Contacts", "contacts", Strings()),
        Stored("task:DueDate", "due_date", Timestamp()),
        Computed("task:IsComplete", text_property("t:IsComplete", lambda i: i.extra.get("status") == COMPLETED)),
        Computed("task:IsRecurring", text_property("t:IsRecurring", lambda i: "recurrence" in i.extra)),
        Stored("task:Mileage", "mileage", Text()),
        Stored("task:PercentComplete", "percent_complete", Number()),
        Stored("task:Recurrence", "recurrence", RecurrenceCodec()),
        Stored("task:StartDate", "start_date", Timestamp()),
        Stored("task:Status", "status", Text()),
        Computed(
            "task:StatusDescription",
            text_property("t:StatusDescription", lambda i: STATUS_TEXT.get(str(i.extra.get("status")))),
        ),
        Stored("task:TotalWork", "total_work", Integer()),
    ),
)
