"""The route table: which handler answers which Graph URL, and the names tests use for routes.

Graph matches path segments case-insensitively and addresses an entity both as ``mailFolders/{id}`` and in
OData key syntax ``mailFolders('{id}')`` (the form its own links use), so the patterns accept both. A route
name (``message.get``, ``sendMail``...) is what ``calls`` counts and what ``fail_next`` targets.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from tests.graph import batch, delta, items, notifications, pim_delta, pim_routes, send
from tests.graph.api import Handler

USER = r"/users/(?P<user>[^/]+)"
FOLDER = r"/mailFolders(?:/|\(')(?P<folder>[^/'()]+)(?:'\))?"
MESSAGE = r"/messages(?:/|\(')(?P<message>[^/'()]+)(?:'\))?"
EVENT = r"(?:/calendar)?/events(?:/|\(')(?P<event>[^/'()]+)(?:'\))?"
CONTACT = r"/contacts(?:/|\(')(?P<contact>[^/'()]+)(?:'\))?"
TASK_LIST = r"/todo/lists(?:/|\(')(?P<list>[^/'()]+)(?:'\))?"
TASK = r"/tasks(?:/|\(')(?P<task>[^/'()]+)(?:'\))?"
SUBSCRIPTION = r"/subscriptions(?:/|\(')(?P<subscription>[^/'()]+)(?:'\))?"


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _route(name: str, method: str, path: str, handler: Handler) -> Route:
    return Route(name, method, re.compile(f"^{path}/?$", re.IGNORECASE), handler)


ROUTES = (  # first match wins: the literal segments (delta, $value, move, send) before the bare ids
    _route("batch", "POST", r"/\$batch", batch.run),
    _route("folders.delta", "GET", USER + r"/mailFolders/delta", delta.folders),
    _route("messages.delta", "GET", USER + FOLDER + r"/messages/delta", delta.messages),
    _route("messages.list", "GET", USER + FOLDER + r"/messages", items.listing),
    _route("folder.children", "GET", USER + FOLDER + r"/childFolders", items.child_folders),
    _route("folder.create", "POST", USER + FOLDER + r"/childFolders", items.create_child_folder),
    _route("folder.get", "GET", USER + FOLDER, items.folder),
    _route("messages.list", "GET", USER + r"/messages", items.listing),
    _route("message.create", "POST", USER + r"/messages", send.create),
    _route("message.value", "GET", USER + MESSAGE + r"/\$value", items.value),
    _route("message.get", "GET", USER + MESSAGE, items.get),
    _route("message.update", "PATCH", USER + MESSAGE, items.update),
    _route("message.delete", "DELETE", USER + MESSAGE, items.delete),
    _route("message.move", "POST", USER + MESSAGE + r"/move", items.move),
    _route("message.send", "POST", USER + MESSAGE + r"/send", send.send_draft),
    _route("sendMail", "POST", USER + r"/sendMail", send.send_mail),
    # calendar, contacts and Microsoft To Do (pim_*.py)
    _route("calendarView.delta", "GET", USER + r"/calendarView/delta", pim_delta.calendar_view),
    _route("calendar.get", "GET", USER + r"/calendar", pim_routes.get_calendar),
    _route("calendar.update", "PATCH", USER + r"/calendar", pim_routes.update_calendar),
    _route("event.create", "POST", USER + r"(?:/calendar)?/events", pim_routes.create_event),
    _route("events.list", "GET", USER + r"(?:/calendar)?/events", pim_routes.list_events),
    _route("event.cancel", "POST", USER + EVENT + r"/cancel", pim_routes.cancel_event),
    _route("event.instances", "GET", USER + EVENT + r"/instances", pim_routes.instances),
    _route("event.get", "GET", USER + EVENT, pim_routes.get_event),
    _route("event.update", "PATCH", USER + EVENT, pim_routes.update_event),
    _route("event.delete", "DELETE", USER + EVENT, pim_routes.delete_event),
    _route("contacts.delta", "GET", USER + r"/contacts/delta", pim_delta.contacts),
    _route("contact.create", "POST", USER + r"/contacts", pim_routes.create_contact),
    _route("contacts.list", "GET", USER + r"/contacts", pim_routes.list_contacts),
    _route("contact.get", "GET", USER + CONTACT, pim_routes.get_contact),
    _route("contact.update", "PATCH", USER + CONTACT, pim_routes.update_contact),
    _route("contact.delete", "DELETE", USER + CONTACT, pim_routes.delete_contact),
    _route("todoLists.list", "GET", USER + r"/todo/lists", pim_routes.task_lists),
    _route("tasks.delta", "GET", USER + TASK_LIST + r"/tasks/delta", pim_delta.tasks),
    _route("task.create", "POST", USER + TASK_LIST + r"/tasks", pim_routes.create_task),
    _route("task.get", "GET", USER + TASK_LIST + TASK, pim_routes.get_task),
    _route("task.update", "PATCH", USER + TASK_LIST + TASK, pim_routes.update_task),
    _route("task.delete", "DELETE", USER + TASK_LIST + TASK, pim_routes.delete_task),
    # change notifications (notifications.py)
    _route("subscription.create", "POST", r"/subscriptions", notifications.create),
    _route("subscription.update", "PATCH", SUBSCRIPTION, notifications.update),
    _route("subscription.delete", "DELETE", SUBSCRIPTION, notifications.delete),
)
NAMES = frozenset(route.name for route in ROUTES)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for ``path`` (below ``/v1.0``) and its parameters, percent-decoded."""
    for route in ROUTES:
        found = route.pattern.match(path)
        if found and route.method == method:
            params = {k: urllib.parse.unquote(v) for k, v in found.groupdict().items() if v is not None}
            return route, params
    return None
