"""One incoming cycle of one mailbox, run by the ``mailbox-work`` queue trigger.

State machine of a cycle (the lease id in the work item fences everything):

    verify lease -> check eligibility -> connect -> list new -> for each message, within the time budget:
        fetch -> process (store or record why not) -> advance the watermark in memory
        (checkpointed to the mailbox row every CHECKPOINT_EVERY messages)
    -> checkpoint -> delete on the server (only delete-after-processing mailboxes, only stored messages)
    -> release the lease, record figures, set the next due time

A crash anywhere leaves the watermark at or before the last stored message: the next run re-fetches
at most a few messages, and the MessageIndex claim turns each into ``AlreadyProcessed``. Nothing is
deleted on the server before its outcome is durable. A mail-server error stops the cycle with its
progress kept; the health policy decides between retry and disabling.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync.auth.secrets import SecretBox
from sync.errors import ConcurrencyConflict, SyncError
from sync.health import policy
from sync.health.alerts import Alerts, incoming_failure_text, mailbox_ref
from sync.incoming.directory import CycleDirectory
from sync.incoming.prefetch import Fetched, Prefetcher
from sync.incoming.processor import IncomingProcessor, ItemOutcome
from sync.incoming.reasons import Reason
from sync.mail.errors import MailServerError, PermanentMailError, TransientMailError
from sync.mail.port import IncomingConnector, IncomingSession, RemoteMessage
from sync.mailboxes import eligibility
from sync.mailboxes.credentials import incoming_connection
from sync.model import EmailServerProfile, ItemFailure, Mailbox, OrganizationSettings
from sync.model.fields import utcnow
from sync.model.mailbox import FolderWatermark
from sync.model.options import ProcessingState, ServerType
from sync.scheduling import polling
from sync.scheduling.work import WorkItem
from sync.settings import Settings
from sync.store.due_index import parse_row_key, row_key
from sync.store.names import Container
from sync.store.read_cache import ReadCache
from sync.store.store import Store

log = logging.getLogger(__name__)

INBOX = "INBOX"
CHECKPOINT_EVERY = 25  # messages between watermark writes: bounds re-fetching after a crash
MAX_PROCESSED_KEYS = 20_000  # POP3 UIDLs remembered; older ones fall back to the Message-ID claim
SETTINGS_CACHE_SECONDS = 60.0  # organization and profile changes reach workers within a minute


class LeaseLost(SyncError):
    """Another worker took the mailbox (our lease expired): stop without writing."""


@dataclass
class CycleReport:
    mailbox_id: str
    status: str = "processed"  # processed | stale | ineligible | failed | disabled
    listed: int = 0
    fetched: int = 0
    tracked: int = 0
    not_tracked: int = 0
    quarantined: int = 0
    deleted: int = 0
    more_pending: bool = False
    error: str | None = None
    reasons: Counter[str] = field(default_factory=Counter)


class MailboxWorker:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        box: SecretBox,
        connectors: Mapping[ServerType, IncomingConnector],
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self.box = box
        self.connectors = connectors
        self.clock = clock
        self.monotonic = monotonic
        self.alerts = Alerts(store)
        self.cache = ReadCache(store, seconds=SETTINGS_CACHE_SECONDS, monotonic=monotonic)

    def organization(self) -> OrganizationSettings:
        """The organization's settings, re-read at most once a minute (an idle cycle must stay cheap)."""
        return self.cache.organization()

    def profile(self, profile_id: str | None) -> EmailServerProfile | None:
        return self.cache.profile(profile_id)

    def run(self, item: WorkItem) -> CycleReport:
        report = CycleReport(item.mailbox_id)
        started, now = self.monotonic(), self.clock()
        mailbox = self.store.find_mailbox(item.mailbox_id)
        if mailbox is None or mailbox.host_id != item.lease_id or (mailbox.lease_expires_on or now) < now:
            report.status = "stale"  # a duplicate or late delivery of the work item: someone else's turn
            return report
        org = self.organization()
        profile = self.profile(mailbox.email_server_profile_id)
        verdict = eligibility.incoming(mailbox, profile, org, now)
        blocking = [r for r in verdict.reasons if r is not eligibility.Reason.POSTPONED]
        if blocking or profile is None:
            report.status, report.error = "ineligible", ", ".join(blocking)
            self._finish(item, report, mailbox, profile, now, unschedule=True)
            return report
        try:
            session = self._open(mailbox, profile)
        except MailServerError as exc:
            return self._failed(item, report, mailbox, profile, org, exc)
        try:
            mailbox = self._cycle(item, report, mailbox, profile, org, session, started)
            session.close()  # POP3 commits its deletions here
        except LeaseLost:
            report.status = "stale"
            _close_quietly(session)
            return report
        except MailServerError as exc:
            _close_quietly(session)
            return self._failed(item, report, self.store.get_mailbox(item.mailbox_id), profile, org, exc)
        self._finish(item, report, mailbox, profile, self.clock(), deleted=True)
        return report

    # --- the cycle ----------------------------------------------------------------------------------
    def _open(self, mailbox: Mailbox, profile: EmailServerProfile) -> IncomingSession:
        connector = self.connectors.get(profile.server_type)
        if connector is None:
            raise PermanentMailError(
                f"incoming email over {profile.server_type.name} is not available", code="UnsupportedServerType"
            )
        return connector.open(incoming_connection(mailbox, profile, self.box, self.settings.extra_ca_file))

    def _cycle(
        self, item: WorkItem, report: CycleReport, mailbox: Mailbox, profile: EmailServerProfile,
        org: OrganizationSettings, session: IncomingSession, started: float,
    ) -> Mailbox:  # fmt: skip
        watermark = mailbox.watermarks.get(INBOX) or FolderWatermark(folder=INBOX)
        listed = session.list_new(watermark, frozenset(watermark.processed_keys))
        report.listed = len(listed)
        if watermark.pending_deletes:  # a deletion the last cycle could not confirm
            session.delete([_remote(key) for key in watermark.pending_deletes])
            report.deleted += len(watermark.pending_deletes)
        if not listed:
            return mailbox  # idle: nothing to write until the lease is released
        processor = IncomingProcessor(self.store, self.settings, org, mailbox, profile, CycleDirectory(self.store))
        done: list[RemoteMessage] = []
        keys = list(watermark.processed_keys)
        stopped: MailServerError | None = None
        prefetcher = Prefetcher(
            session, listed[: self.settings.max_emails_per_cycle],
            max_bytes=self.settings.max_incoming_email_bytes, parse=processor.parse,
        )  # fmt: skip
        with prefetcher:
            for fetched in prefetcher:
                if self.monotonic() - started > self.settings.worker_budget_seconds:
                    break  # the rest stays on the server, unadvanced, for the next cycle
                if fetched.error is not None:
                    if not isinstance(fetched.error, TransientMailError):
                        raise fetched.error
                    stopped = fetched.error  # keep what is done; the next cycle continues from the watermark
                    break
                remote = fetched.remote
                outcome = self._one(processor, fetched)
                report.reasons[outcome.reason.label] += 1
                report.fetched += fetched.raw is not None
                report.tracked += outcome.tracked
                report.not_tracked += not outcome.tracked and outcome.reason is not Reason.QUARANTINED
                report.quarantined += outcome.reason is Reason.QUARANTINED
                watermark = session.advance(watermark, remote)
                if remote.uid is None and remote.key not in keys:
                    keys.append(remote.key)
                done.append(remote)
                if len(done) % CHECKPOINT_EVERY == 0:
                    mailbox = self._checkpoint(item, mailbox, watermark, keys, [])
        report.more_pending = len(done) < len(listed)
        deleting = [r.key for r in done] if mailbox.delete_emails_after_processing else []
        mailbox = self._checkpoint(item, mailbox, watermark, keys, deleting)
        if deleting:
            session.delete(done)
            report.deleted += len(done)
        if stopped is not None:
            raise stopped
        return mailbox

    def _one(self, processor: IncomingProcessor, fetched: Fetched) -> ItemOutcome:
        remote, raw = fetched.remote, fetched.raw
        if raw is None:  # over the size limit: checked before the body is fetched (N-14)
            return self._record_too_large(processor, remote)
        try:
            return processor.process(raw, remote.received_on, parsed=fetched.parsed)
        except Exception as exc:  # one bad message never blocks the mailbox: keep its bytes and move on
            log.exception("quarantining message %s of mailbox %s", remote.key, processor.mailbox.id)
            return self._quarantine(processor.mailbox, remote, raw, exc)

    def _record_too_large(self, processor: IncomingProcessor, remote: RemoteMessage) -> ItemOutcome:
        key = f"remote:{processor.mailbox.id}:{remote.key}"
        self.store.item_failures.upsert(ItemFailure(
            mailbox_id=processor.mailbox.id, message_key=key, reason=Reason.TOO_LARGE.label,
            reason_code=int(Reason.TOO_LARGE), received_on=remote.received_on,
            details=f"{remote.size} bytes is over the {self.settings.max_incoming_email_bytes}-byte limit; not fetched",
            expires_on=self.clock() + timedelta(days=self.settings.item_failure_retention_days),
        ))  # fmt: skip
        return ItemOutcome(Reason.TOO_LARGE, None, key)

    def _quarantine(self, mailbox: Mailbox, remote: RemoteMessage, raw: bytes, exc: Exception) -> ItemOutcome:
        digest = hashlib.sha256(raw).hexdigest()
        ref = self.store.blobs.put(Container.QUARANTINE, f"{mailbox.id}/{digest}.eml", raw, "message/rfc822")
        key = f"sha256:{digest}"
        self.store.item_failures.upsert(ItemFailure(
            mailbox_id=mailbox.id, message_key=key, reason=Reason.QUARANTINED.label,
            reason_code=int(Reason.QUARANTINED),
            details=f"{type(exc).__name__}: {exc}"[:2048], received_on=remote.received_on, quarantine_blob=ref.name,
            expires_on=self.clock() + timedelta(days=self.settings.item_failure_retention_days),
        ))  # fmt: skip
        return ItemOutcome(Reason.QUARANTINED, None, key)

    # --- persistence --------------------------------------------------------------------------------
    def _save(self, item: WorkItem, mailbox: Mailbox, change: Callable[[Mailbox], None]) -> Mailbox:
        """Apply ``change`` to the copy in hand (one write); on a conflict re-read, re-check the lease, retry."""

        def guarded(fresh: Mailbox) -> None:
            if fresh.host_id != item.lease_id:
                raise LeaseLost(f"mailbox {fresh.id} is held by another lease")
            change(fresh)

        if mailbox.host_id == item.lease_id and mailbox.etag is not None:
            attempt = mailbox.model_copy(deep=True)
            attempt.with_etag(mailbox.etag)
            change(attempt)
            try:
                return self.store.mailboxes.update(attempt)
            except ConcurrencyConflict:
                pass  # someone edited the mailbox meanwhile (an administrator): re-read and re-apply
        return self.store.mailboxes.modify(item.mailbox_id, "mailbox", guarded)

    def _checkpoint(
        self, item: WorkItem, mailbox: Mailbox, watermark: FolderWatermark, keys: list[str], deleting: list[str]
    ) -> Mailbox:
        def advance(m: Mailbox) -> None:
            m.watermarks = {
                **m.watermarks,
                INBOX: watermark.model_copy(
                    update={"processed_keys": keys[-MAX_PROCESSED_KEYS:], "pending_deletes": deleting}
                ),
            }

        return self._save(item, mailbox, advance)

    def _finish(
        self, item: WorkItem, report: CycleReport, mailbox: Mailbox, profile: EmailServerProfile | None,
        now: datetime, *, unschedule: bool = False, retry_at: datetime | None = None, deleted: bool = False,
    ) -> None:  # fmt: skip
        """Release the lease and set the next due time; moves the due row only when it must change."""
        got_mail = report.fetched > 0
        before = mailbox.due_row_key
        holder: dict[str, str | None] = {}

        def release(m: Mailbox) -> None:
            m.processing_state, m.host_id, m.lease_expires_on = ProcessingState.IDLE, None, None
            inbox = m.watermarks.get(INBOX)
            if deleted and inbox is not None and inbox.pending_deletes:  # the server confirmed them
                m.watermarks = {**m.watermarks, INBOX: inbox.model_copy(update={"pending_deletes": []})}
            if report.status == "processed":
                m.no_email_count = 0 if got_mail else m.no_email_count + 1
                m.items_processed_for_last_sync = report.tracked + report.not_tracked
                m.items_failed_for_last_sync = report.quarantined
                m.last_sync_started_on = now
                policy.apply_success(m, now)
            if unschedule:
                m.due_row_key = None
            else:
                due = retry_at or (
                    now + timedelta(minutes=self.settings.poll_busy_minutes) if (got_mail or report.more_pending)
                    else polling.next_due(now, m.no_email_count, busy_minutes=self.settings.poll_busy_minutes,
                                          idle_max_minutes=self.settings.poll_idle_max_minutes,
                                          profile_min_minutes=profile.min_polling_interval_minutes if profile else 0)
                )  # fmt: skip
                m.postpone_mailbox_processing_until = due
                m.due_row_key = row_key(m.id, due)
            holder["key"] = m.due_row_key

        try:
            self._save(item, mailbox, release)
        except LeaseLost:
            report.status = "stale"
            return
        new_key = holder["key"]
        if new_key != before:
            if new_key is None:
                self.store.due_index.remove(mailbox.id, before)
            else:
                self.store.due_index.move(mailbox.id, before, _due_of(new_key))
        if got_mail:
            self._purge_expired_failures(mailbox.id, now)

    def _failed(
        self, item: WorkItem, report: CycleReport, mailbox: Mailbox, profile: EmailServerProfile,
        org: OrganizationSettings, exc: MailServerError,
    ) -> CycleReport:  # fmt: skip
        now = self.clock()
        holder: dict[str, policy.FailureOutcome] = {}

        def record(m: Mailbox) -> None:
            holder["outcome"] = policy.apply_failure(
                m,
                exc,
                now,
                limit=self.settings.transient_retry_limit,
                retry_minutes=self.settings.transient_retry_minutes,
            )

        try:
            mailbox = self._save(item, mailbox, record)
        except LeaseLost:
            report.status = "stale"
            return report
        outcome = holder["outcome"]
        report.status, report.error = ("disabled" if outcome.disabled else "failed"), f"{exc.code}: {exc}"
        text = incoming_failure_text(
            mailbox, profile.name, exc.code, f"{type(exc).__name__}: {exc}", disabled=outcome.disabled,
            authentication=outcome.error_class is policy.ErrorClass.AUTHENTICATION,
        )  # fmt: skip
        self.alerts.raise_alert(org, text, mailbox_ref(mailbox), mailbox_id=mailbox.id, profile_id=profile.id)
        self._finish(item, report, mailbox, profile, now, unschedule=outcome.disabled, retry_at=outcome.retry_at)
        log.warning("mailbox %s: %s (%s)", mailbox.id, report.error, report.status)
        return report

    def _purge_expired_failures(self, mailbox_id: str, now: datetime) -> None:
        """Item-level records are kept N-26 days (3 by default), then removed."""
        for failure in self.store.item_failures.query(
            "PartitionKey eq @pk and expires_on lt @now", {"pk": mailbox_id, "now": now}
        ):
            self.store.item_failures.delete(failure, if_unchanged=False)


def _remote(key: str) -> RemoteMessage:
    """A message known only by its key (for deleting what an earlier cycle stored)."""
    head, _, tail = key.partition(":")
    uid = int(tail) if head.isdigit() and tail.isdigit() else None
    return RemoteMessage(key=key, size=0, received_on=None, uid=uid)


def _close_quietly(session: IncomingSession) -> None:
    try:
        session.close()
    except MailServerError:
        log.info("closing a failed session failed too", exc_info=True)


def _due_of(key: str) -> datetime:
    return parse_row_key(key).due_on
