"""Keep one Graph change notification subscription per watched resource of a mailbox (docs/push.md).

Which resources: the mailbox's messages when it receives email through Graph, and its calendar, contacts and
default To Do list when it synchronizes appointments, contacts and tasks (ACT) through Graph. Subscriptions are
made at Test & Enable (:meth:`PushSubscriber.ensure`), renewed by the ``renew_push`` timer long before they
expire, and created again when Graph lost them (a renewal answered 404, a ``subscriptionRemoved`` event).
A subscription that could not be made keeps its row without an id: the timer tries again, and meanwhile
polling carries the mailbox as before. Each subscription has its own random ``clientState``, sealed at rest
and never logged.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync.auth.secrets import SecretBox, secret_context
from sync.mail.errors import MailServerError
from sync.mail.graph.connector import GraphConnector
from sync.mail.graph.subscriptions import (
    CONTACTS,
    EVENTS,
    MAIL,
    TASKS,
    GraphSubscriptions,
    SubscriptionGone,
    default_task_list,
    resource,
)
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import utcnow
from sync.operations.sync_now import uses
from sync.store.push_subscriptions import PushSubscription
from sync.store.store import Store

log = logging.getLogger(__name__)

ACT_KINDS = (EVENTS, CONTACTS, TASKS)
RENEW_AHEAD = timedelta(days=2)  # renew when less than this is left: a To Do subscription lives under 3 days
LIFECYCLE_PATH = "/lifecycle"  # lifecycle events go to the notification URL + this
CLIENT_STATE_BYTES = 32  # Graph allows 128 characters; 43 of URL-safe base64


def wanted_kinds(mailbox: Mailbox, profile: EmailServerProfile | None) -> list[str]:
    """What push watches for ``mailbox``: nothing unless its profile reaches Exchange Online through Graph."""
    if profile is None or not profile.uses_graph or not mailbox.is_active:
        return []
    used = uses(mailbox)
    kinds = [MAIL] if "incoming" in used and mailbox.enabled_for_incoming else []
    if "act" in used and mailbox.enabled_for_act:
        kinds += ACT_KINDS
    return kinds


def workload_of(kind: str) -> str:
    return "incoming" if kind == MAIL else "act"


@dataclass
class RenewReport:
    renewed: int = 0
    created: int = 0
    removed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class PushSubscriber:
    def __init__(
        self, store: Store, box: SecretBox, graph: GraphConnector, notification_url: str | None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:  # fmt: skip
        self.store = store
        self.box = box
        self.graph = graph
        self.notification_url = notification_url
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return self.notification_url is not None

    # --- secrets ------------------------------------------------------------------------------------------------
    def _context(self, mailbox_id: str, kind: str) -> bytes:
        return secret_context("PushSubscriptions", f"{mailbox_id}/{kind}", "client_state")

    def client_state(self, record: PushSubscription) -> str:
        """The record's clientState in clear, for the constant-time comparison of a notification."""
        return self.box.open(record.client_state, self._context(record.mailbox_id, record.kind))

    # --- Test & Enable ------------------------------------------------------------------------------------------
    def ensure(self, mailbox: Mailbox, profile: EmailServerProfile | None, workloads: Iterable[str]) -> RenewReport:
        """Subscribe the resources of the workloads that just passed Test & Enable (those push watches)."""
        report = RenewReport()
        if not self.enabled or profile is None:
            return report
        passed = set(workloads)
        now = self.clock()
        for kind in wanted_kinds(mailbox, profile):
            if workload_of(kind) not in passed:
                continue
            found = self.store.push_subscriptions.find(mailbox.id, kind)
            if found and found.subscription_id and found.expires_on and found.expires_on > now + RENEW_AHEAD:
                continue  # live and far from expiry
            self._attempt(report, mailbox, profile, kind, found)
        return report

    # --- the timer ----------------------------------------------------------------------------------------------
    def renew_due(self) -> RenewReport:
        """Renew what expires within :data:`RENEW_AHEAD`, re-create what was lost, drop what is not wanted."""
        report = RenewReport()
        if not self.enabled:
            return report
        for record in list(self.store.push_subscriptions.needing_work(self.clock() + RENEW_AHEAD)):
            mailbox = self.store.find_mailbox(record.mailbox_id)
            profile = self.store.find_profile(mailbox.email_server_profile_id or "") if mailbox else None
            if mailbox is None or record.kind not in wanted_kinds(mailbox, profile):
                self._remove(record, mailbox, profile)
                report.removed += 1
                continue
            assert profile is not None
            self._attempt(report, mailbox, profile, record.kind, record)
        return report

    # --- lifecycle events ---------------------------------------------------------------------------------------
    def renew(self, record: PushSubscription) -> RenewReport:
        """``reauthorizationRequired``: renewing re-authorizes; a subscription Graph lost is made again."""
        return self._lifecycle(record)

    def recreate(self, record: PushSubscription) -> RenewReport:
        """``subscriptionRemoved``: Graph dropped it, make a new one."""
        return self._lifecycle(record, forget=True)

    def _lifecycle(self, record: PushSubscription, *, forget: bool = False) -> RenewReport:
        report = RenewReport()
        mailbox = self.store.find_mailbox(record.mailbox_id)
        profile = self.store.find_profile(mailbox.email_server_profile_id or "") if mailbox else None
        if mailbox is None or profile is None or record.kind not in wanted_kinds(mailbox, profile):
            return report
        if forget:
            lost = PushSubscription(record.mailbox_id, record.kind, record.resource, record.client_state)
            self.store.push_subscriptions.save(lost, replaced=record.subscription_id)
            self._mark(record.mailbox_id, record.kind, None)
            record = lost
        self._attempt(report, mailbox, profile, record.kind, record)
        return report

    # --- one subscription ---------------------------------------------------------------------------------------
    def _attempt(
        self, report: RenewReport, mailbox: Mailbox, profile: EmailServerProfile, kind: str,
        found: PushSubscription | None,
    ) -> None:  # fmt: skip
        try:
            api, address = self.graph.open_subscriptions(mailbox, profile)
            if found is not None and found.subscription_id:
                try:
                    self._renew(api, found)
                    report.renewed += 1
                    return
                except SubscriptionGone:
                    log.info("push subscription %s of mailbox %s was gone: creating it again",
                             found.subscription_id, mailbox.id)  # fmt: skip
            self._create(api, address, mailbox, kind, found)
            report.created += 1
        except MailServerError as exc:
            report.failed += 1
            report.errors.append(f"{mailbox.id}/{kind}: {exc.code}")
            log.warning("push subscription %s of mailbox %s failed (%s); polling carries it", kind, mailbox.id,
                        exc.code)  # fmt: skip
            if found is None:  # remember it is wanted, so the timer tries again
                lost = PushSubscription(mailbox.id, kind, "", self._seal(mailbox.id, kind, _new_state()))
                self.store.push_subscriptions.save(lost)
            self._mark(mailbox.id, kind, None)  # no notifications: polling carries it at its usual cadence

    def _renew(self, api: GraphSubscriptions, record: PushSubscription) -> None:
        assert record.subscription_id is not None
        expires = api.renew(record.kind, record.subscription_id, self.clock())
        self.store.push_subscriptions.save(
            PushSubscription(record.mailbox_id, record.kind, record.resource, record.client_state,
                             record.subscription_id, expires)
        )  # fmt: skip
        self._mark(record.mailbox_id, record.kind, expires)

    def _mark(self, mailbox_id: str, kind: str, until: datetime | None) -> None:
        """The mailbox's ``push_subscribed_until``: while set, its polling is only the safety net."""
        if kind != MAIL:
            return

        def mark(mailbox: Mailbox) -> None:
            mailbox.push_subscribed_until = until

        if self.store.get_mailbox(mailbox_id).push_subscribed_until != until:
            self.store.mailboxes.modify(mailbox_id, "mailbox", mark)

    def _create(
        self, api: GraphSubscriptions, address: str, mailbox: Mailbox, kind: str, found: PushSubscription | None
    ) -> None:
        assert self.notification_url is not None
        task_list = default_task_list(api.client, address) if kind == TASKS else None
        if kind == TASKS and task_list is None:
            return  # no To Do list: nothing to watch (ACT's own check reports it)
        path = resource(kind, address, task_list)
        state = _new_state()
        sealed = self._seal(mailbox.id, kind, state)
        # The row first, without a subscription: should this process die inside the POST, the timer still
        # knows the resource is wanted (a subscription Graph made meanwhile is unknown to us and expires).
        pending = PushSubscription(mailbox.id, kind, path, sealed)
        self.store.push_subscriptions.save(pending)
        created = api.create(
            kind, path, notification_url=self.notification_url,
            lifecycle_url=self.notification_url.rstrip("/") + LIFECYCLE_PATH, client_state=state, now=self.clock(),
        )  # fmt: skip
        record = PushSubscription(mailbox.id, kind, path, sealed, created.subscription_id, created.expires_on)
        self.store.push_subscriptions.save(record, replaced=found.subscription_id if found else None)
        self._mark(mailbox.id, kind, created.expires_on)
        if found is not None and found.subscription_id and found.subscription_id != created.subscription_id:
            api.delete(found.subscription_id)

    def _seal(self, mailbox_id: str, kind: str, state: str) -> str:
        return str(self.box.seal(state, self._context(mailbox_id, kind)))

    def _remove(self, record: PushSubscription, mailbox: Mailbox | None, profile: EmailServerProfile | None) -> None:
        if mailbox is not None:
            self._mark(mailbox.id, record.kind, None)
        if record.subscription_id and mailbox is not None and profile is not None and profile.uses_graph:
            try:
                api, _ = self.graph.open_subscriptions(mailbox, profile)
                api.delete(record.subscription_id)
            except MailServerError as exc:
                log.info("push subscription %s could not be deleted (%s): it expires on its own",
                         record.subscription_id, exc.code)  # fmt: skip
        self.store.push_subscriptions.delete(record)


def _new_state() -> str:
    return secrets.token_urlsafe(CLIENT_STATE_BYTES)
