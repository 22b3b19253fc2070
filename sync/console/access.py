"""Who is using the console, and what they may do: the session cookie to a person, the person to a role check.

A page needs a live session (else the browser is sent to the sign-in page); a change needs the session's CSRF
token in the form and the app role the API would ask for, checked here on the server whatever the page showed:
``Sync.Admin`` changes, ``Sync.Approver`` approves, any of the three reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from sync.api.auth import ADMIN_ROLE, APPROVER_ROLE, READER_ROLE, Principal
from sync.console.errors import Refused, SignInRequired
from sync.console.forms import Form, check_csrf, read_form
from sync.console.services import services
from sync.console.sessions import ConsoleSession

COOKIE = "sync_console"
COOKIE_PATH = "/console"
CONSOLE_ROLES = frozenset({ADMIN_ROLE, READER_ROLE, APPROVER_ROLE})


@dataclass(frozen=True)
class Person:
    """A signed-in person: what the templates show and what the service functions record as the actor."""

    session: ConsoleSession

    @property
    def can_change(self) -> bool:
        return ADMIN_ROLE in self.session.roles

    @property
    def can_approve(self) -> bool:
        return APPROVER_ROLE in self.session.roles

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def name(self) -> str:
        return self.session.name

    def require_admin(self) -> None:
        if not self.can_change:
            raise Refused(403, f"this action needs the {ADMIN_ROLE} app role; you can read only")

    def require_approver(self) -> None:
        if not self.can_approve:
            raise Refused(403, f"approving or rejecting an email address needs the {APPROVER_ROLE} app role")

    @property
    def principal(self) -> Principal:
        """The same caller type the API's functions take; ``id`` fits a Dataverse lookup (36 characters)."""
        return Principal(id=self.session.user_id[:36], roles=self.session.roles, via="console")


def current(request: Request) -> Person:
    """The signed-in person of this request; :class:`SignInRequired` without a live session with a console role."""
    cookie = request.cookies.get(COOKIE, "")
    session = services(request).sessions.session(cookie) if cookie else None
    if session is None or not session.roles & CONSOLE_ROLES:
        raise SignInRequired
    return Person(session)


async def checked_form(request: Request) -> tuple[Person, Form]:
    """A state-changing request: a live session and its CSRF token in the form; the caller then checks the role
    the change needs with :meth:`Person.require_admin` or :meth:`Person.require_approver`."""
    person = current(request)
    form = await read_form(request, services(request).max_body_bytes)
    check_csrf(form, person.session)
    return person, form
