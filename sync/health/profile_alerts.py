"""Profile-level alerts (R-ERR-5, R-ERR-7): what the owner of an email server profile reads and receives.

A mailbox failure is written twice: on the mailbox (its owner must act) and on its profile, where one alert per
(profile, code) lists every mailbox failing that way *now*, each with its own error code. A second mailbox's
failure adds it to the list instead of overwriting the first one's name and code; a mailbox that recovers leaves
every alert of its profile, and an alert with no mailbox left closes (``resolved_on``, dismissed).

More than half of a profile's mailboxes failing within the hour is an *episode* (R-ERR-7), kept as its own
alert on the profile. The worker that opens it (creates the row, or reopens a closed one: both are
compare-and-swap writes, so exactly one worker wins) emails the profile's owner when the profile's
``send_email_alert`` is on: at most one email per episode. The episode closes when half or fewer fail.
With the organization's ``notify_mailbox_owner_of_server_level_alerts`` on, a mailbox's owner is emailed
when the mailbox joins a profile-level alert (once per alert episode).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sync.errors import AlreadyExists, NotFound
from sync.health import enable_alerts
from sync.health.alerts import (
    CODE_INCOMING_AUTH,
    CODE_INCOMING_PERMANENT,
    CODE_INCOMING_TRANSIENT,
    AlertText,
    level_enabled,
)
from sync.health.notifications import AlertMailer, Notice
from sync.health.server_text import printable, safe_code
from sync.model import Alert, EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.activities import AffectedMailbox
from sync.model.fields import EntityRef, utcnow
from sync.model.options import AlertLevel, EntityType
from sync.operations.summary import PROFILE_ALERT_SHARE, failed_recently
from sync.store.schema import alert_row_key
from sync.store.store import Store

CODE_PROFILE_MOSTLY_FAILING = 8005_0010
MOSTLY_FAILING_CODE_NAME = "ProfileMailboxesFailing"
INCOMING_ERROR = "IncomingEmailError"  # a mailbox's code name when only its last error time is known
SUMMARY = {  # what the mailboxes of one profile alert have in common, by alert code
    CODE_INCOMING_TRANSIENT: "cannot receive email for now; the system will try to receive email again later",
    CODE_INCOMING_AUTH: "have been disabled for receiving email: their credentials are incorrect or have "
    "insufficient permissions",
    CODE_INCOMING_PERMANENT: "have been disabled for receiving email: an error occurred while connecting to the "
    "email server",
    enable_alerts.CODE_TEST_INCOMING_FAILED: "failed Test & Enable for receiving email",
    enable_alerts.CODE_TEST_OUTGOING_FAILED: "failed Test & Enable for sending email",
    enable_alerts.CODE_TEST_ACT_FAILED: "failed Test & Enable for appointments, contacts, and tasks",
    enable_alerts.CODE_TEST_PRECONDITION_FAILED: "cannot be tested and enabled",
}


def profile_alert_text(level: AlertLevel, code: int, profile_name: str, failing: list[AffectedMailbox]) -> AlertText:
    """The profile's copy: every mailbox failing this way, each with its own code; no one mailbox's wording."""
    names = ", ".join(f"{m.name} ({m.code_name})" for m in failing)
    what = SUMMARY.get(code, f"are failing with alert code {code}")
    codes = {m.code_name for m in failing}
    code_name = codes.pop() if len(codes) == 1 else "SeveralErrors"
    count = f"{len(failing)} mailbox{'es' if len(failing) != 1 else ''}"
    text = (
        f"{count} of the email server profile {profile_name} {what}: {names}. Each mailbox's own alert says what "
        f"to do. Email Server Error Code: {code_name}"
    )
    return AlertText(level, code, code_name, printable(text), f"{len(failing)} mailboxes: {names}")


def mostly_failing_text(profile_name: str, failing: list[AffectedMailbox], total: int) -> AlertText:
    names = ", ".join(f"{m.name} ({m.code_name})" for m in failing)
    text = (
        f"More than half of the mailboxes of the email server profile {profile_name} failed in the last hour: "
        f"{len(failing)} of {total} ({names}). Check the email server and the profile's settings. "
        f"Email Server Error Code: {MOSTLY_FAILING_CODE_NAME}"
    )
    return AlertText(AlertLevel.ERROR, CODE_PROFILE_MOSTLY_FAILING, MOSTLY_FAILING_CODE_NAME, printable(text),
                     f"{len(failing)} of {total} mailboxes failing")  # fmt: skip


def profile_ref(profile_id: str) -> EntityRef:
    return EntityRef(type=EntityType.EMAIL_SERVER_PROFILE, id=profile_id)


def _is_open(alert: Alert) -> bool:
    return alert.resolved_on is None


class ProfileAlerts:
    def __init__(self, store: Store, mailer: AlertMailer | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        """Without a ``mailer`` the alerts are written and no email is sent (a caller with no outgoing path)."""
        self.store = store
        self.clock = clock
        self.mailer = mailer

    # --- a mailbox failed -----------------------------------------------------------------------------------
    def mailbox_failed(
        self, org: OrganizationSettings, profile: EmailServerProfile, mailbox: Mailbox, alert: AlertText
    ) -> None:
        """Add ``mailbox`` to its profile's alert for ``alert.code``; then the R-ERR-7 majority check."""
        entry = AffectedMailbox(mailbox_id=mailbox.id, name=mailbox.name[:256], code_name=safe_code(alert.code_name))
        if level_enabled(org, alert.level):
            joined = self._join(profile, alert.level, alert.code, entry)
            if joined and org.notify_mailbox_owner_of_server_level_alerts and mailbox.email_address and self.mailer:
                self.mailer.send(org, _owner_notice(mailbox, profile, alert))
        self.check_majority(org, profile, entry)

    def _join(self, profile: EmailServerProfile, level: AlertLevel, code: int, entry: AffectedMailbox) -> bool:
        """Write ``entry`` on the profile's alert; True when the mailbox was not on the open alert before."""
        now = self.clock()
        joined: dict[str, bool] = {}

        def change(existing: Alert) -> None:
            listed = existing.mailboxes if _is_open(existing) else []
            joined["new"] = all(m.mailbox_id != entry.mailbox_id for m in listed)
            failing = (
                [*listed, entry]
                if joined["new"]
                else [entry if m.mailbox_id == entry.mailbox_id else m for m in listed]
            )
            text = profile_alert_text(level, code, profile.name, failing)
            existing.level, existing.code_name, existing.text = level, text.code_name, text.text[:2000]
            existing.error_details, existing.mailboxes = text.details[:2048], failing
            existing.mailbox_id, existing.last_seen_on, existing.count = None, now, existing.count + 1
            existing.dismissed, existing.resolved_on = False, None

        ref = profile_ref(profile.id)
        try:
            self.store.alerts.modify(ref.id, alert_row_key(code), change)
            return joined["new"]
        except NotFound:
            pass
        text = profile_alert_text(level, code, profile.name, [entry])
        record = Alert(level=level, code=code, code_name=text.code_name, text=text.text[:2000],
                       error_details=text.details[:2048], regarding=ref, profile_id=profile.id, mailboxes=[entry],
                       first_seen_on=now, last_seen_on=now)  # fmt: skip
        try:
            self.store.alerts.insert(record)
            return True
        except AlreadyExists:  # another worker wrote it meanwhile: join theirs
            self.store.alerts.modify(ref.id, alert_row_key(code), change)
            return joined["new"]

    # --- R-ERR-7 --------------------------------------------------------------------------------------------
    def check_majority(
        self, org: OrganizationSettings, profile: EmailServerProfile, latest: AffectedMailbox | None = None
    ) -> None:
        """Open (and email, once) or close the profile's "more than half failing" episode (incoming failures)."""
        now = self.clock()
        boxes = list(self.store.mailboxes.query("email_server_profile_id eq @p", {"p": profile.id}))
        failing = [
            latest if latest is not None and latest.mailbox_id == m.id
            else AffectedMailbox(mailbox_id=m.id, name=m.name[:256], code_name=INCOMING_ERROR)
            for m in boxes
            if failed_recently(m, now)
        ]  # fmt: skip
        if boxes and len(failing) > PROFILE_ALERT_SHARE * len(boxes):
            text = mostly_failing_text(profile.name, failing, len(boxes))
            opened = self._open_episode(profile, text, failing, shown=level_enabled(org, text.level))
            if opened and profile.send_email_alert and profile.owner_email_address and self.mailer:
                self.mailer.send(org, _majority_notice(profile, text))
        else:
            self._close(profile.id, [CODE_PROFILE_MOSTLY_FAILING])

    def _open_episode(
        self, profile: EmailServerProfile, text: AlertText, failing: list[AffectedMailbox], *, shown: bool
    ) -> bool:
        """True for the one writer that opened the episode (created the row or reopened a closed one).

        The row is the episode's state, so it is written even when the organization turned error alerts off
        (R-ERR-6); it is then kept dismissed, off the alerts wall.
        """
        now = self.clock()
        opened: dict[str, bool] = {}

        def change(existing: Alert) -> None:
            opened["now"] = not _is_open(existing)
            existing.text, existing.error_details, existing.mailboxes = text.text[:2000], text.details, failing
            existing.last_seen_on, existing.count = now, existing.count + 1
            if opened["now"]:  # a new episode: counted from its start
                existing.first_seen_on, existing.count = now, 1
            existing.dismissed, existing.resolved_on = not shown, None

        ref = profile_ref(profile.id)
        row = alert_row_key(CODE_PROFILE_MOSTLY_FAILING)
        try:
            self.store.alerts.modify(ref.id, row, change)
            return opened["now"]
        except NotFound:
            pass
        record = Alert(level=text.level, code=text.code, code_name=text.code_name, text=text.text[:2000],
                       error_details=text.details, regarding=ref, profile_id=profile.id, mailboxes=failing,
                       first_seen_on=now, last_seen_on=now, dismissed=not shown)  # fmt: skip
        try:
            self.store.alerts.insert(record)
            return True
        except AlreadyExists:
            self.store.alerts.modify(ref.id, row, change)
            return opened["now"]

    # --- a mailbox recovered --------------------------------------------------------------------------------
    def mailbox_recovered(self, org: OrganizationSettings, mailbox_id: str, profile_ids: Iterable[str | None]) -> None:
        """Take ``mailbox_id`` off the open alerts of these profiles; close those left empty."""
        for profile_id in {p for p in profile_ids if p}:
            self._leave(profile_id, mailbox_id)
            profile = self.store.find_profile(profile_id)
            if profile is not None:
                self.check_majority(org, profile)

    def _leave(self, profile_id: str, mailbox_id: str) -> None:
        now = self.clock()

        def change(existing: Alert) -> None:
            existing.mailboxes = [m for m in existing.mailboxes if m.mailbox_id != mailbox_id]
            if existing.mailboxes:
                text = profile_alert_text(existing.level, existing.code, _profile_name(self.store, profile_id),
                                          existing.mailboxes)  # fmt: skip
                existing.text, existing.code_name, existing.error_details = text.text, text.code_name, text.details
            else:
                existing.resolved_on, existing.dismissed = now, True

        for alert in self.store.alerts.partition(profile_id):
            on_it = any(m.mailbox_id == mailbox_id for m in alert.mailboxes)
            if on_it and _is_open(alert) and alert.code != CODE_PROFILE_MOSTLY_FAILING:
                self.store.alerts.modify(profile_id, alert_row_key(alert.code), change)

    def _close(self, profile_id: str, codes: list[int]) -> None:
        now = self.clock()

        def close(existing: Alert) -> None:
            existing.resolved_on, existing.dismissed = now, True

        for code in codes:
            found = self.store.alerts.find(profile_id, alert_row_key(code))
            if found is not None and _is_open(found):
                self.store.alerts.modify(profile_id, alert_row_key(code), close)


def _profile_name(store: Store, profile_id: str) -> str:
    profile = store.find_profile(profile_id)
    return profile.name if profile else profile_id


def _owner_notice(mailbox: Mailbox, profile: EmailServerProfile, alert: AlertText) -> Notice:
    return Notice(
        to=mailbox.email_address or "",
        subject=f"Your mailbox {mailbox.name} has a server-level alert",
        body=f"{alert.text}\n\nThe owner of the email server profile {profile.name} has been notified too.",
        about=profile_ref(profile.id),
    )


def _majority_notice(profile: EmailServerProfile, alert: AlertText) -> Notice:
    return Notice(
        to=profile.owner_email_address or "",
        subject=f"More than half of the mailboxes of the email server profile {profile.name} are failing",
        body=alert.text,
        about=profile_ref(profile.id),
    )
