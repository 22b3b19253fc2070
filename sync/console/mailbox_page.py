"""A mailbox's page: its settings (editable where the API allows), its states and last Test & Enable, its alerts
(dismiss), its recent cycles, the emails it did not track and why, its quarantine (replay), and for a mailbox
whose profile takes per-mailbox OAuth consent, the consent (:mod:`sync.console.consent_page`).

Each change goes through the API's own code: the settings form is validated by the mailbox resource's update
model and saved by its save function, so the console accepts exactly what ``PATCH /api/mailboxes/{id}`` accepts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from sync.api import mailboxes as mailbox_resource
from sync.api.readable import option_name
from sync.console import actions, consent_outcome
from sync.console.access import Person, checked_form, current
from sync.console.consent_page import consent_panel
from sync.console.errors import Refused
from sync.console.forms import Form
from sync.console.grid import build_row
from sync.console.services import services
from sync.console.templating import render
from sync.errors import NotFound, SyncError
from sync.incoming.reasons import Reason
from sync.incoming.replay import replay_quarantine
from sync.model.options import ActDeliveryMethod, IncomingDeliveryMethod, OutgoingDeliveryMethod, TestStatus
from sync.store.schema import alert_row_key

MailboxId = Annotated[str, Path(min_length=1, max_length=64)]
RECENT_CYCLES = 20
METHODS = {
    "incoming_method": [option_name(m) for m in IncomingDeliveryMethod],
    "outgoing_method": [option_name(m) for m in OutgoingDeliveryMethod],
    "act_method": [option_name(m) for m in ActDeliveryMethod],
}
TEXT_FIELDS = ("name", "username")
FLAGS = (
    "enabled_for_incoming", "enabled_for_outgoing", "enabled_for_act", "allow_credentials_for_email_processing",
    "delete_emails_after_processing",
)  # fmt: skip


def render_page(request: Request, person: Person, mailbox_id: str, **extra: Any) -> HTMLResponse:
    """The page of ``mailbox_id``; ``extra`` sets a result ``message`` or a list of ``problems``."""
    context = services(request).context
    store = context.store
    try:
        mailbox = store.get_mailbox(mailbox_id)
    except NotFound:
        raise Refused(404, "No mailbox has this id.") from None
    profile = store.find_profile(mailbox.email_server_profile_id or "")
    alerts = sorted(store.alerts.partition(mailbox.id), key=lambda a: a.last_seen_on, reverse=True)
    failures = list(store.item_failures.partition(mailbox.id))
    quarantined = [f for f in failures if f.reason == Reason.QUARANTINED.label]
    not_tracked = [f for f in failures if f.reason != Reason.QUARANTINED.label]
    open_alerts = sum(not a.dismissed for a in alerts)
    tests = [("Incoming", mailbox.incoming_status), ("Outgoing", mailbox.outgoing_status), ("ACT", mailbox.act_status)]
    consent = consent_panel(context, mailbox, profile)
    values: dict[str, Any] = {
        "person": person, "mailbox": mailbox, "profile": profile, "active": "mailboxes", "tests": tests,
        "row": build_row(mailbox, profile, store.get_organization(), context.clock(), open_alerts),
        "alerts": alerts, "cycles": store.cycle_history.recent(mailbox.id)[:RECENT_CYCLES],
        "not_tracked": not_tracked, "quarantined": quarantined, "profiles": list(store.profiles.query()),
        "methods": METHODS, "current_methods": {
            name: option_name(getattr(mailbox, name)) for name in METHODS
        }, "message": None, "problems": [], "status_word": _status_word, "consent": consent,
    }  # fmt: skip
    values.update(extra)
    # the Connect form ends at the identity provider: a Content-Security-Policy of 'self' only would stop it there
    also_post_to = (consent.authorize_origin,) if consent and person.can_change else ()
    return render(request, "mailbox.html", form_action_also=also_post_to, **values)


def _status_word(status: TestStatus) -> str:
    return {TestStatus.NOT_RUN: "not run", TestStatus.SUCCESS: "succeeded", TestStatus.FAILURE: "failed"}.get(
        status, status.name.lower().replace("_", " ")
    )


def settings_changes(form: Form) -> dict[str, Any]:
    """The form as the body of ``PATCH /api/mailboxes/{id}``: unchecked boxes are false, a blank password is
    left unchanged (it is write-only: the page never shows it)."""
    body: dict[str, Any] = {name: form.get(name) for name in TEXT_FIELDS}
    body["username"] = body["username"] or None
    body.update({name: form.get(name) for name in METHODS})
    body.update({flag: form.get(flag) == "on" for flag in FLAGS})
    body["email_server_profile_id"] = form.get("email_server_profile_id") or None
    if form.get("password"):
        body["password"] = form.get("password")
    return body


def build_router() -> APIRouter:
    router = APIRouter(prefix="/console/mailboxes", include_in_schema=False)

    @router.get("/{mailbox_id}")
    def mailbox_page(
        request: Request,
        mailbox_id: MailboxId,
        consent: Annotated[str, Query(max_length=32)] = "",
        provider_error: Annotated[str, Query(max_length=64)] = "",
    ) -> HTMLResponse:
        """``consent`` (and ``provider_error``): how a consent started here ended, as the OAuth callback tells."""
        person = current(request)
        said = consent_outcome.message(consent, provider_error) if consent else None
        message = actions.ActionResult(mailbox_id, "", said.ok, said.text) if said else None
        return render_page(request, person, mailbox_id, message=message)

    @router.post("/{mailbox_id}/test-and-enable")
    async def run_test(request: Request, mailbox_id: MailboxId) -> HTMLResponse:
        person, _ = await checked_form(request)
        person.require_admin()
        result = actions.run_one(services(request).context, "test-and-enable", mailbox_id, person.principal)
        return render_page(request, person, mailbox_id, message=result)

    @router.post("/{mailbox_id}/approve")
    async def approve(request: Request, mailbox_id: MailboxId) -> HTMLResponse:
        person, _ = await checked_form(request)
        person.require_approver()
        result = actions.run_one(services(request).context, "approve", mailbox_id, person.principal)
        return render_page(request, person, mailbox_id, message=result)

    @router.post("/{mailbox_id}/settings")
    async def save_settings(request: Request, mailbox_id: MailboxId) -> HTMLResponse:
        person, form = await checked_form(request)
        person.require_admin()
        context = services(request).context
        shape = mailbox_resource.SHAPE
        try:
            body = shape.update_model().model_validate(settings_changes(form))
            stored = context.store.get_mailbox(mailbox_id)
            save = mailbox_resource.RESOURCE.save
            assert save is not None  # mailboxes are writable through the API
            save(context, stored, shape.merged(stored, body, context.box))
        except ValidationError as exc:
            problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
            return render_page(request, person, mailbox_id, problems=problems)
        except SyncError as exc:
            return render_page(request, person, mailbox_id, problems=[str(exc)])
        done = actions.ActionResult(mailbox_id, stored.name, True, "settings saved")
        return render_page(request, person, mailbox_id, message=done)

    @router.post("/{mailbox_id}/alerts/{code}/dismiss")
    async def dismiss(request: Request, mailbox_id: MailboxId, code: int) -> HTMLResponse:
        person, _ = await checked_form(request)
        person.require_admin()

        def dismissed(alert: Any) -> None:
            alert.dismissed = True

        try:
            services(request).context.store.alerts.modify(mailbox_id, alert_row_key(code), dismissed)
        except NotFound:
            raise Refused(404, "This alert is gone.") from None
        return render_page(
            request, person, mailbox_id, message=actions.ActionResult(mailbox_id, "", True, "alert dismissed")
        )

    @router.post("/{mailbox_id}/quarantine/replay")
    async def replay(request: Request, mailbox_id: MailboxId) -> HTMLResponse:
        person, _ = await checked_form(request)
        person.require_admin()
        context = services(request).context
        try:
            replayed = replay_quarantine(context.store, context.settings, mailbox_id)
        except SyncError as exc:
            return render_page(request, person, mailbox_id, problems=[str(exc)])
        text = "; ".join(f"{r.message_key}: {r.outcome}" for r in replayed) or "nothing was quarantined"
        return render_page(
            request, person, mailbox_id, message=actions.ActionResult(mailbox_id, "", True, f"replayed: {text}")
        )

    return router
