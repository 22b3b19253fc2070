"""One incoming cycle of one mailbox, run by the ``mailbox-work`` queue trigger.

State machine of a cycle (the lease id in the work item fences everything):

    verify lease -> check eligibility -> connect -> list new -> for each message, within the time budget:
        fetch -> process (store or record why not) -> advance the watermark in memory
        (checkpointed to the mailbox row every CHECKPOINT_EVERY messages, up to the last stored one)
    -> checkpoint -> delete on the server (only delete-after-processing mailboxes, only stored messages)
    -> release the lease, record figures, set the next due time

A crash anywhere leaves the watermark at or before the last stored message: the next run re-fetches
at most a few messages, and the MessageIndex claim turns each into ``AlreadyProcessed``. Nothing is
deleted on the server before its outcome is durable, and only a settled one (tracked, or deliberately
not tracked: ``Reason.settled``). Every checkpoint writes the folder's pending deletions: those carried
over from an earlier cycle and the messages settled so far (one whose writes are still in flight is
neither listed nor covered by the watermark: the next cycle fetches it again), so a crash between
checkpoints loses none;
they are cleared once the session closed without error (POP3 commits its DELEs at QUIT).
A mail-server error stops the cycle with its progress kept; the health policy decides between retry and disabling.

A message whose processing fails is tried again in later cycles (:mod:`sync.incoming.retries`). A message that
stops the cycle itself (the function times out, the process dies) cannot be caught: a cycle that follows a dead
one (its lease was broken) writes an ``in_progress`` marker, with the message's bytes kept, before each message;
the next cycle that finds a marker counts one failed try for that message and moves past it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync.auth.secrets import SecretBox
from sync.errors import ConcurrencyConflict, NotFound, SyncError
from sync.health import policy
from sync.health.alerts import Alerts, incoming_failure_text, mailbox_ref
from sync.health.notifications import AlertMailer
from sync.health.profile_alerts import ProfileAlerts
from sync.incoming.checkpoint_progress import CheckpointProgress
from sync.incoming.connection_limit import ConnectionLimitReached, IncomingConnectionLimit
from sync.incoming.directory import CycleDirectory
from sync.incoming.item_alerts import invalid_sender_text
from sync.incoming.marks import TRACKED_CATEGORY, mark_for
from sync.incoming.prefetch import Fetched, Prefetcher
from sync.incoming.processor import IncomingProcessor, ItemOutcome
from sync.incoming.reasons import Reason
from sync.incoming.retries import ItemRetries
from sync.incoming.write_behind import WriteBehind
from sync.mail.errors import MailServerError, PermanentMailError, ServerBusy, TransientMailError
from sync.mail.mime import ParsedMessage
from sync.mail.mime_guards import MessageOverLimit
from sync.mail.port import (
    INBOX_CONTEXT,
    ExchangeConnector,
    ExchangeSession,
    FolderContext,
    FolderPlan,
    FolderReader,
    FolderSync,
    InboxReader,
    IncomingConnector,
    IncomingSession,
    RemoteMessage,
    RuleChange,
    ServerMark,
    TrackingRule,
)
from sync.mailboxes import eligibility
from sync.mailboxes.credentials import incoming_connection
from sync.model import EmailServerProfile, ItemFailure, Mailbox, MailboxTrackingFolder, OrganizationSettings, options
from sync.model.email import BlobRef
from sync.model.fields import utcnow
from sync.model.mailbox import FolderWatermark, InProgressItem
from sync.model.options import ProcessingState, ServerType
from sync.operations.cycles import incoming_entry
from sync.operations.recorder import CycleRecorder
from sync.outgoing.port import AccessTokenSource
from sync.scheduling import polling, ticket
from sync.scheduling.poll_budget import PollBudget
from sync.scheduling.work import WorkItem
from sync.settings import Settings
from sync.store.due_index import parse_row_key, row_key
from sync.store.names import Container, Table
from sync.store.read_cache import ReadCache
from sync.store.slots import ConnectionSlots
from sync.store.store import Store

log = logging.getLogger(__name__)

HIERARCHY = "#folders"  # the watermark key of the Inbox's folder hierarchy (Exchange)
CHECKPOINT_EVERY = 25  # messages between watermark writes: bounds re-fetching after a crash
FOLDER_ONBOARDED = options.FolderOnboardingStatus.ONBOARDED  # the rule's folder was found under the Inbox
FOLDER_GONE = options.FolderOnboardingStatus.NOT_UNDER_INBOX  # left the Inbox or never was under it: the rule stops
STOPPED = "the cycle stopped while processing it (function timeout or crash)"
MAX_PROCESSED_KEYS = 20_000  # POP3 UIDLs remembered; older ones fall back to the Message-ID claim
SETTINGS_CACHE_SECONDS = 60.0  # organization and profile changes reach workers within a minute
SLOT_HOLD_MARGIN_SECONDS = 120  # a connection slot is renewed this long past the time budget, then left to expire
BUDGETED = frozenset({"processed", "failed", "disabled"})  # the cycles that reached the mail server


class LeaseLost(SyncError):
    """Another worker took the mailbox (our lease expired): stop without writing."""


@dataclass
class CycleReport:
    mailbox_id: str
    status: str = "processed"  # processed | stale | ineligible | failed | disabled | throttled
    listed: int = 0
    fetched: int = 0
    tracked: int = 0
    not_tracked: int = 0
    quarantined: int = 0
    retried: int = 0  # messages tried again this cycle after an earlier failure (R-REC-9)
    deleted: int = 0
    revisited: int = 0  # items this mailbox tracked, listed again because they changed (our tracking category...)
    more_pending: bool = False
    budget_held: bool = False  # the poll budget set the next due time later than the adaptive polling would
    error: str | None = None
    reasons: Counter[str] = field(default_factory=Counter)


class MailboxWorker:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        box: SecretBox,
        connectors: Mapping[ServerType, IncomingConnector | ExchangeConnector],
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        connection_limit: IncomingConnectionLimit | None = None,
        tokens: AccessTokenSource | None = None,
        rewake: Callable[[str], object] | None = None,
    ) -> None:
        """``rewake(mailbox_id)`` queues a mailbox's cycle at once: the next one when a notification came during
        this one, or one whose turn for a connection slot came (R-SCH-10)."""
        self.store = store
        self.tokens = tokens  # OAuth access tokens for IMAP/POP3 profiles that log in with them
        self.rewake = rewake
        self.settings = settings
        self.box = box
        self.connectors = connectors
        self.connection_limit = connection_limit or IncomingConnectionLimit(
            ConnectionSlots(store.account.table(Table.CONNECTION_SLOTS)),  # real time: leases outlive processes
            hold_seconds=settings.worker_budget_seconds + SLOT_HOLD_MARGIN_SECONDS,
            wake=rewake,
        )
        self.clock = clock
        self.monotonic = monotonic
        self.alerts = Alerts(store)
        self.profile_alerts = ProfileAlerts(store, AlertMailer(store, settings, clock), clock)
        self.cache = ReadCache(store, seconds=SETTINGS_CACHE_SECONDS, monotonic=monotonic)
        self.recorder = CycleRecorder(store)
        self.retries = ItemRetries(store, settings.item_failure_retention_days, clock)

    def organization(self) -> OrganizationSettings:
        """The organization's settings, re-read at most once a minute (an idle cycle must stay cheap)."""
        return self.cache.organization()

    def profile(self, profile_id: str | None) -> EmailServerProfile | None:
        return self.cache.profile(profile_id)

    @property
    def poll_budget(self) -> PollBudget:
        """At most Dynamics' cycles per mailbox-hour, however busy the mailbox (docs/scheduling.md)."""
        return PollBudget(self.settings.poll_cycles_per_hour, self.settings.poll_burst_cycles)

    def run(self, item: WorkItem) -> CycleReport:
        """One cycle, then its row in the mailbox's cycle history and its share of the organization's totals."""
        started_on, started = self.clock(), self.monotonic()
        report = self._run(item)
        entry = incoming_entry(
            item.mailbox_id, started_on, int((self.monotonic() - started) * 1000), status=report.status,
            listed=report.listed, tracked=report.tracked, not_tracked=report.not_tracked,
            quarantined=report.quarantined, error=report.error, reasons=report.reasons,
        )  # fmt: skip
        self.recorder.record(entry, self.clock())
        return report

    def _run(self, item: WorkItem) -> CycleReport:  # noqa: PLR0911 (one return per way a cycle ends)
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
            session = self._open(mailbox, profile, started + self.settings.worker_budget_seconds)
        except ServerBusy as exc:  # every connection the profile allows is in use (R-SCH-10): no failure counted
            refused = isinstance(exc, ConnectionLimitReached)
            return self._throttled(item, report, mailbox, profile, exc, cycle_started=now if refused else None)
        except MailServerError as exc:
            return self._failed(item, report, mailbox, profile, org, exc)
        try:
            mailbox = self._cycle(item, report, mailbox, profile, org, session, started)
            session.close()  # POP3 commits its deletions here
        except LeaseLost:
            report.status = "stale"
            _close_quietly(session)
            return report
        except ServerBusy as exc:  # the server's throttling: come back when it said, no failure counted
            _close_quietly(session)
            return self._throttled(item, report, self.store.get_mailbox(item.mailbox_id), profile, exc)
        except MailServerError as exc:
            _close_quietly(session)
            return self._failed(item, report, self.store.get_mailbox(item.mailbox_id), profile, org, exc)
        self._finish(item, report, mailbox, profile, self.clock(), deleted=True, cycle_started=now)
        return report

    def _throttled(
        self, item: WorkItem, report: CycleReport, mailbox: Mailbox, profile: EmailServerProfile, exc: ServerBusy,
        cycle_started: datetime | None = None,
    ) -> CycleReport:  # fmt: skip
        """Come back when the server (or the connection limit) said, with no failure counted. A cycle refused a
        connection slot (``cycle_started``) comes back at once if it was woken meanwhile: its slot came free
        before its lease was released, so the wake only marked it (docs/imap-pop3.md#connections)."""
        report.status, report.error, report.more_pending = "throttled", f"{exc.code}: {exc}", True
        now = self.clock()
        retry_at = now + timedelta(seconds=exc.retry_after_seconds)
        self._finish(item, report, mailbox, profile, now, retry_at=retry_at, cycle_started=cycle_started)
        return report

    # --- the cycle ----------------------------------------------------------------------------------
    def _open(
        self, mailbox: Mailbox, profile: EmailServerProfile, deadline: float
    ) -> IncomingSession | ExchangeSession:
        """A session within the profile's connection limit (R-SCH-10)."""
        connector = self.connectors.get(profile.server_type)
        if connector is None:
            raise PermanentMailError(
                f"incoming email over {profile.server_type.name} is not available", code="UnsupportedServerType"
            )
        if isinstance(connector, ExchangeConnector):
            exchange = connector
            return self.connection_limit.open(
                mailbox, profile, lambda: exchange.open_mailbox(mailbox, profile, deadline=deadline)
            )
        inbox, endpoint = (
            connector,
            incoming_connection(mailbox, profile, self.box, self.settings.extra_ca_file, self.tokens),
        )
        return self.connection_limit.open(mailbox, profile, lambda: inbox.open(endpoint))

    def _cycle(
        self, item: WorkItem, report: CycleReport, mailbox: Mailbox, profile: EmailServerProfile,
        org: OrganizationSettings, session: IncomingSession | ExchangeSession, started: float,
    ) -> Mailbox:  # fmt: skip
        """Read each folder in turn (POP3 and IMAP: the Inbox; Exchange: see ``sync/mail/port.py``)."""
        readers: Sequence[FolderReader]
        exchange = isinstance(session, ExchangeSession)
        if isinstance(session, ExchangeSession):
            synced = session.folders(self._plan(mailbox, org))
            mailbox = self._apply_rule_changes(item, mailbox, synced)
            readers = synced.readers
        else:
            readers = [InboxReader(session)]
        cycle = _Cycle(item, report, org, profile, started, exchange, careful=_follows_a_dead_cycle(mailbox))
        if mailbox.in_progress is not None:
            mailbox = self._stopped_on(cycle, mailbox, mailbox.in_progress)
        due = mailbox.item_retries_due_on
        if due is not None and due <= self.clock():
            mailbox = self._retry_due(cycle, mailbox, {r.context.key: r.context for r in readers})
        for reader in readers:
            if cycle.exhausted(self):
                report.more_pending = True
                break
            mailbox = self._folder(cycle, mailbox, reader)
        if cycle.marks and isinstance(session, ExchangeSession):
            try:
                session.mark(cycle.marks)
            except MailServerError:  # cosmetic: the emails are stored; the next cycle does not retry marks
                log.warning("mailbox %s: marking %d items failed", mailbox.id, len(cycle.marks), exc_info=True)
        if cycle.stopped is not None:
            raise cycle.stopped
        return mailbox

    def _plan(self, mailbox: Mailbox, org: OrganizationSettings) -> FolderPlan:
        """Sent Items when the organization tracks them (R-IN-5); the user's enabled tracking rules (§2.12)."""
        rules: tuple[TrackingRule, ...] = ()
        if org.is_folder_based_tracking_enabled and not mailbox.is_queue_mailbox and not mailbox.is_forward_mailbox:
            rules = tuple(
                TrackingRule(rule.id, rule.exchange_folder_id, rule.regarding)
                for rule in self.store.tracking_folders.partition(mailbox.id)
                if rule.is_enabled
            )[: org.max_folder_based_tracking_mappings]
        hierarchy = mailbox.watermarks.get(HIERARCHY)
        return FolderPlan(
            sent_items=org.auto_track_sent_folder_items and not mailbox.is_forward_mailbox,
            rules=rules,
            hierarchy_state=hierarchy.sync_state if hierarchy else None,
            revisit_categories=frozenset({TRACKED_CATEGORY}) if org.track_categorized_items else frozenset(),
        )

    def _apply_rule_changes(self, item: WorkItem, mailbox: Mailbox, synced: FolderSync) -> Mailbox:
        """Renamed folders keep their rule; a folder that left the Inbox stops its rule (R-FLT-9, R-FLT-12)."""
        for change in synced.rule_changes:

            def update(rule: MailboxTrackingFolder, change: RuleChange = change) -> None:
                if change.folder_id is not None:
                    rule.exchange_folder_id = change.folder_id
                if change.gone:
                    rule.is_enabled, rule.folder_onboarding_status = False, FOLDER_GONE
                elif change.name is not None:
                    rule.exchange_folder_name = change.name[:256]
                    rule.folder_onboarding_status = FOLDER_ONBOARDED

            try:
                self.store.tracking_folders.modify(mailbox.id, change.rule_id, update)
            except NotFound:
                continue  # the rule was deleted meanwhile
        known = mailbox.watermarks.get(HIERARCHY)
        if synced.hierarchy_state is None or (known is not None and known.sync_state == synced.hierarchy_state):
            return mailbox
        state = FolderWatermark(folder=HIERARCHY, sync_state=synced.hierarchy_state)

        def remember(m: Mailbox) -> None:
            m.watermarks = {**m.watermarks, HIERARCHY: state}

        return self._save(item, mailbox, remember)

    def _folder(self, cycle: _Cycle, mailbox: Mailbox, reader: FolderReader) -> Mailbox:
        """One folder: list, process in order, checkpoint, delete where the mailbox says so."""
        report, key = cycle.report, reader.context.key
        watermark = mailbox.watermarks.get(key) or FolderWatermark(folder=key[:256])
        listed = reader.list_new(watermark, frozenset(watermark.processed_keys))
        report.listed += len(listed)
        deleting = list(watermark.pending_deletes)  # pending until this session closes cleanly
        if deleting:  # a deletion an earlier cycle could not confirm
            reader.delete([_remote(k) for k in deleting])
            report.deleted += len(deleting)
        if not listed:
            completed = reader.complete(watermark)
            if completed != watermark:  # pages of changes that were not new messages
                keys = list(completed.processed_keys)
                mailbox = self._checkpoint(cycle.item, mailbox, key, completed, keys, deleting)
            return mailbox
        processor = cycle.processor(self, mailbox)
        room = max(self.settings.max_emails_per_cycle - cycle.handled, 0)
        run = _FolderRun(watermark, list(watermark.processed_keys), deleting)
        mailbox = self._messages(cycle, mailbox, reader, processor, listed[:room], run)
        watermark, keys, done, settled = run.watermark, run.keys, run.done, run.settled
        finished = len(done) == len(listed) and cycle.stopped is None
        report.more_pending = report.more_pending or not finished
        if finished:
            watermark = reader.complete(watermark)
        mailbox = self._checkpoint(cycle.item, mailbox, key, watermark, keys, deleting)
        if settled:
            reader.delete(settled)
            report.deleted += len(settled)
        return mailbox

    def _messages(
        self, cycle: _Cycle, mailbox: Mailbox, reader: FolderReader, processor: IncomingProcessor,
        todo: Sequence[RemoteMessage], run: _FolderRun,
    ) -> Mailbox:  # fmt: skip
        """Decide the messages in order; their writes overlap (WriteBehind); a checkpoint covers the messages
        before the first whose writes are still in flight (a page's end waits for all of them)."""
        key = reader.context.key
        prefetcher = Prefetcher(
            reader, todo, max_bytes=self.settings.max_incoming_email_bytes, parse=processor.parse,
            skipped=self._skips(processor, todo), on_parsed=_reading_ahead(processor),
        )  # fmt: skip
        # a cycle after a dead one names each message before processing it: one at a time, no overlap
        behind = None if cycle.careful else WriteBehind()
        window: CheckpointProgress[Fetched, ItemOutcome, tuple[FolderWatermark, int]] = CheckpointProgress()

        def record(fetched: Fetched, outcome: ItemOutcome) -> None:
            cycle.count(fetched, outcome)
            cycle.mark(fetched.remote, outcome)
            if mailbox.delete_emails_after_processing and outcome.reason.settled:
                run.settled.append(fetched.remote)
                run.deleting.append(fetched.remote.key)

        def written() -> None:
            """Every write in flight finished and recorded: the run's whole progress may be checkpointed."""
            if behind is not None:
                behind.drain()
            for fetched, future in window.all_in_flight():
                record(fetched, self._written(processor, fetched, reader.context, future))

        def checkpoint(page_end: bool) -> Mailbox:
            """A page's end (Exchange, pages of 100) once all of it is stored; otherwise the progress up to the
            first message whose writes are still in flight, without waiting for them."""
            if page_end:
                written()
                return self._checkpoint(cycle.item, mailbox, key, run.watermark, run.keys, run.deleting)
            for fetched, future in window.finished_at_head():
                record(fetched, self._written(processor, fetched, reader.context, future))
            covered = window.covered()
            if covered is None:
                return mailbox  # nothing stored since the last checkpoint
            return self._checkpoint(cycle.item, mailbox, key, covered[0], run.keys[: covered[1]], run.deleting)

        processor.write_behind = behind
        try:
            with prefetcher:
                for fetched in prefetcher:
                    if self.monotonic() - cycle.started > self.settings.worker_budget_seconds:
                        break  # the rest stays on the server, unadvanced, for the next cycle
                    if fetched.error is not None:
                        if not isinstance(fetched.error, TransientMailError):
                            raise fetched.error
                        cycle.stopped = fetched.error  # keep what is done; the next cycle continues from there
                        break
                    remote, progress = fetched.remote, (run.watermark, run.keys, run.deleting)
                    outcome, mailbox = self._processed(cycle, mailbox, reader, processor, fetched, progress)
                    if outcome.pending is None:
                        record(fetched, outcome)
                    run.watermark = reader.advance(run.watermark, remote)  # in memory; checkpointed once stored
                    if isinstance(reader, InboxReader) and remote.uid is None and remote.key not in run.keys:
                        run.keys.append(remote.key)  # POP3: UIDLs are the only memory of what was processed
                    run.done.append(remote)
                    window.decided(fetched, outcome.pending, (run.watermark, len(run.keys)))
                    if remote.sync_state is not None or len(run.done) % CHECKPOINT_EVERY == 0:
                        mailbox = checkpoint(page_end=remote.sync_state is not None)
                written()
        finally:
            processor.write_behind = None
            if behind is not None:
                behind.close()  # on an error too: no write outlives the cycle
        return mailbox

    def _skips(self, processor: IncomingProcessor, remotes: Sequence[RemoteMessage]) -> dict[str, Reason]:
        """Messages decided from their listing alone, so they are never fetched."""
        skips: dict[str, Reason] = {}
        start = processor.start_date()
        for remote in remotes:
            if start is not None and remote.received_on is not None and remote.received_on < start:
                skips[remote.key] = Reason.BEFORE_START_DATE  # R-IN-2/3, without downloading it
            elif remote.revisit and remote.message_id and processor.tracked_here(remote.message_id):
                skips[remote.key] = Reason.ALREADY_PROCESSED  # a change to an item this mailbox tracked
        return skips

    def _written(
        self, processor: IncomingProcessor, fetched: Fetched, folder: FolderContext, future: Future[ItemOutcome]
    ) -> ItemOutcome:
        """The outcome of writes that ran behind the decisions; their failure is handled as :meth:`_one`'s."""
        try:
            outcome: ItemOutcome = future.result()
        except Exception as exc:  # one bad message never blocks the mailbox (R-REC-9)
            log.exception("message %s of mailbox %s failed; it will be tried again", fetched.remote.key,
                          processor.mailbox.id)  # fmt: skip
            return self._retry_later(processor, fetched, folder, exc)
        return outcome

    def _one(self, processor: IncomingProcessor, fetched: Fetched, folder: FolderContext) -> ItemOutcome:
        if fetched.skipped is not None:
            return ItemOutcome(fetched.skipped, message_key=fetched.remote.key)
        remote, raw = fetched.remote, fetched.raw
        if raw is None:  # over the size limit: checked before the body is fetched (N-14)
            return self._record_too_large(processor, remote)
        try:
            return processor.process(
                raw, remote.received_on, parsed=fetched.parsed, folder=folder, categories=remote.categories
            )
        except MessageOverLimit as exc:  # the same bytes hit the same limit every time: no use retrying
            log.warning("quarantining message %s of mailbox %s: %s", remote.key, processor.mailbox.id, exc)
            return self._quarantine(processor.mailbox, remote, raw, exc)
        except Exception as exc:  # one bad message never blocks the mailbox: keep its bytes, try later (R-REC-9)
            log.exception("message %s of mailbox %s failed; it will be tried again", remote.key, processor.mailbox.id)
            return self._retry_later(processor, fetched, folder, exc)

    def _retry_later(
        self, processor: IncomingProcessor, fetched: Fetched, folder: FolderContext, exc: Exception
    ) -> ItemOutcome:
        """Keep the failed message's bytes and count its first try (sync.incoming.retries)."""
        parsed, raw = fetched.parsed, fetched.raw or b""
        failure = self.retries.first_failure(
            processor.mailbox.id, fetched.remote, folder.key, raw, exc,
            subject=(parsed.subject or "") if parsed else "",
            sender=parsed.from_[0].address if parsed and parsed.from_ else None,
            message_id=parsed.message_id if parsed else None,
        )  # fmt: skip
        return ItemOutcome(Reason(failure.reason_code), None, failure.message_key)

    def _processed(
        self, cycle: _Cycle, mailbox: Mailbox, reader: FolderReader, processor: IncomingProcessor, fetched: Fetched,
        progress: tuple[FolderWatermark, list[str], list[str]],
    ) -> tuple[ItemOutcome, Mailbox]:  # fmt: skip
        """One message; in a cycle that follows a dead one, named by the in-progress marker first."""
        kept = None
        if cycle.careful and fetched.raw is not None and fetched.skipped is None:
            kept, mailbox = self._mark_in_progress(cycle, mailbox, reader, fetched, progress)
        outcome = self._one(processor, fetched, reader.context)
        if kept is not None and outcome.reason not in (Reason.RETRY_PENDING, Reason.QUARANTINED):
            self.store.blobs.delete(kept)  # processed: the copy kept in case it stopped the cycle goes
        if outcome.reason is Reason.INVALID_SENDER:  # R-IN-14: an information alert, safe to ignore
            subject = (fetched.parsed.subject if fetched.parsed else None) or ""
            alert = invalid_sender_text(mailbox, subject)
            self.alerts.raise_alert(cycle.org, alert, mailbox_ref(mailbox), mailbox_id=mailbox.id,
                                    profile_id=cycle.profile.id)  # fmt: skip
        return outcome, mailbox

    def _mark_in_progress(
        self, cycle: _Cycle, mailbox: Mailbox, reader: FolderReader, fetched: Fetched,
        progress: tuple[FolderWatermark, list[str], list[str]],
    ) -> tuple[BlobRef, Mailbox]:  # fmt: skip
        """Keep the message's bytes, then checkpoint with the marker naming it (a cycle after a dead one)."""
        remote, raw = fetched.remote, fetched.raw or b""
        watermark, keys, deleting = progress
        digest = hashlib.sha256(raw).hexdigest()
        kept = self.store.blobs.put(Container.QUARANTINE, f"{mailbox.id}/{digest}.eml", raw, "message/rfc822")
        after = reader.advance(watermark, remote).model_copy(update={"processed_keys": [], "pending_deletes": []})
        marker = InProgressItem(
            folder=reader.context.key[:256], remote_key=remote.key[:1024], received_on=remote.received_on,
            blob=kept.name, after=after, remember_key=isinstance(reader, InboxReader) and remote.uid is None,
        )  # fmt: skip
        key = reader.context.key
        return kept, self._checkpoint(cycle.item, mailbox, key, watermark, keys, deleting, marker=marker)

    def _stopped_on(self, cycle: _Cycle, mailbox: Mailbox, marker: InProgressItem) -> Mailbox:
        """The previous cycle died on ``marker``'s message: one failed try for it, and the watermark moves past it."""
        log.warning("mailbox %s: the previous cycle stopped on message %s", mailbox.id, marker.remote_key)
        outcome: ItemOutcome | None = None
        if marker.failure_key is not None:
            found = list(self.store.item_failures.query(
                "PartitionKey eq @pk and message_key eq @key", {"pk": mailbox.id, "key": marker.failure_key}
            ))  # fmt: skip
            if found and found[0].reason == Reason.RETRY_PENDING.label:
                counted = self.retries.failed_again(found[0], STOPPED)
                outcome = ItemOutcome(Reason(counted.reason_code), None, counted.message_key)
        elif marker.blob is not None:
            raw = self.store.blobs.get(BlobRef(container=Container.QUARANTINE.value, name=marker.blob, size=0))
            remote = RemoteMessage(key=marker.remote_key, size=len(raw), received_on=marker.received_on)
            failure = self.retries.first_failure(mailbox.id, remote, marker.folder, raw, STOPPED)
            outcome = ItemOutcome(Reason(failure.reason_code), None, failure.message_key)
        if outcome is not None:
            cycle.tally(outcome)
            cycle.report.retried += 1  # so the finish re-reads when the next try is due

        def move_past(m: Mailbox) -> None:
            m.in_progress = None
            if marker.after is not None:
                now = m.watermarks.get(marker.folder) or FolderWatermark(folder=marker.folder)
                keys = [*now.processed_keys, marker.remote_key] if marker.remember_key else now.processed_keys
                past = {"processed_keys": keys[-MAX_PROCESSED_KEYS:], "pending_deletes": now.pending_deletes}
                m.watermarks = {**m.watermarks, marker.folder: marker.after.model_copy(update=past)}

        return self._save(cycle.item, mailbox, move_past)

    def _retry_due(self, cycle: _Cycle, mailbox: Mailbox, contexts: Mapping[str, FolderContext]) -> Mailbox:
        """Try again the messages whose earlier processing failed and whose next try is due (R-REC-9, R-ERR-8)."""
        processor = cycle.processor(self, mailbox)
        deletes: dict[str, list[str]] = {}
        for failure in self.retries.due(mailbox.id, self.clock()):
            if cycle.exhausted(self):
                break  # still due: the next cycle goes on with it
            cycle.report.retried += 1
            folder = contexts.get(failure.folder_key or "") or FolderContext(failure.folder_key or INBOX_CONTEXT.key)
            if cycle.careful:
                marker = InProgressItem(folder=folder.key[:256], remote_key=failure.remote_key or failure.message_key,
                                        failure_key=failure.message_key)  # fmt: skip
                mailbox = self._save(cycle.item, mailbox, _in_progress(marker))
            try:
                outcome = processor.process(self.retries.raw(failure), failure.received_on, folder=folder)
            except Exception as exc:  # any failure is one more failed try of this message
                log.warning("message %s of mailbox %s failed again: %s", failure.message_key, mailbox.id, exc)
                counted = self.retries.failed_again(failure, exc)
                outcome = ItemOutcome(Reason(counted.reason_code), None, counted.message_key)
            else:
                self.retries.succeeded(failure)
                if mailbox.delete_emails_after_processing and outcome.reason.settled and failure.remote_key:
                    deletes.setdefault(failure.folder_key or INBOX_CONTEXT.key, []).append(failure.remote_key)
            cycle.tally(outcome)
            if failure.remote_key:
                cycle.mark(_remote(failure.remote_key), outcome)
        if deletes:  # deleted by the folder's pass of this cycle, with the other pending deletions

            def pending(m: Mailbox) -> None:
                for key, keys in deletes.items():
                    mark = m.watermarks.get(key) or FolderWatermark(folder=key[:256])
                    m.watermarks = {**m.watermarks, key: mark.model_copy(
                        update={"pending_deletes": [*mark.pending_deletes, *keys]})}  # fmt: skip

            mailbox = self._save(cycle.item, mailbox, pending)
        return mailbox

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
        self, item: WorkItem, mailbox: Mailbox, key: str, watermark: FolderWatermark, keys: list[str],
        deleting: list[str], *, marker: InProgressItem | None = None,
    ) -> Mailbox:  # fmt: skip
        def advance(m: Mailbox) -> None:
            m.in_progress = marker
            m.watermarks = {
                **m.watermarks,
                key: watermark.model_copy(
                    update={"processed_keys": keys[-MAX_PROCESSED_KEYS:], "pending_deletes": deleting}
                ),
            }

        return self._save(item, mailbox, advance)

    def _finish(
        self, item: WorkItem, report: CycleReport, mailbox: Mailbox, profile: EmailServerProfile | None,
        now: datetime, *, unschedule: bool = False, retry_at: datetime | None = None, deleted: bool = False,
        cycle_started: datetime | None = None,
    ) -> None:  # fmt: skip
        """Release the lease and set the next due time; moves the due row only when it must change.

        The poll budget (sync/scheduling/poll_budget.py) counts the cycle if it reached the mail server and
        holds the next due time until the mailbox has a cycle of its hour left. A change notification that came
        after the cycle began (``push_pending_on``, docs/push.md) may name a message the cycle did not see: the
        next cycle is then due at once, budget or not (push is never delayed)."""
        got_mail = report.fetched > 0
        before = mailbox.due_row_key
        holder: dict[str, str | None] = {}
        touched = report.retried > 0 or report.reasons[Reason.RETRY_PENDING.label] > 0
        retries_due = self.retries.next_due(mailbox.id) if touched else mailbox.item_retries_due_on

        def release(m: Mailbox) -> None:
            m.processing_state, m.host_id, m.lease_expires_on = ProcessingState.IDLE, None, None
            m.in_progress = None  # every message it named was processed: the cycle ended
            pushed_late = bool(cycle_started and m.push_pending_on and m.push_pending_on > cycle_started)
            if cycle_started is not None:
                m.push_pending_on = None  # this cycle read what came before it began
            if deleted and any(w.pending_deletes for w in m.watermarks.values()):  # the server confirmed them
                m.watermarks = {
                    k: w.model_copy(update={"pending_deletes": []}) if w.pending_deletes else w
                    for k, w in m.watermarks.items()
                }
            if report.status in BUDGETED:
                m.poll_budget_full_on = self.poll_budget.spend(m.poll_budget_full_on, now)
            if report.status == "processed":
                m.no_email_count = 0 if got_mail else m.no_email_count + 1
                m.items_processed_for_last_sync = report.tracked + report.not_tracked
                m.items_failed_for_last_sync = report.quarantined
                m.last_sync_started_on = now
                policy.apply_success(m, now)
            if touched:
                m.item_retries_due_on = retries_due
            if unschedule:
                m.due_row_key = None
            else:
                due, held = self._due_after(m, report, profile, now, retry_at)
                holder["budget_held"] = "yes" if held else None
                if pushed_late:
                    due = now
                    holder["pushed_late"] = "yes"
                m.postpone_mailbox_processing_until = due
                m.due_row_key = row_key(m.id, due)
            holder["key"] = m.due_row_key

        try:
            saved = self._save(item, mailbox, release)
        except LeaseLost:
            report.status = "stale"
            return
        report.budget_held = holder.get("budget_held") is not None
        self._move_due_row(saved, profile, before, holder["key"])
        if holder.get("pushed_late") and self.rewake is not None:
            self.rewake(mailbox.id)  # due now anyway: the tick would take it within a minute, this takes it now
        if got_mail:
            self._purge_expired_failures(mailbox.id, now)
        if report.status == "processed" and mailbox.last_sync_error_count > 0:  # it had failed: it recovered
            self.profile_alerts.mailbox_recovered(self.organization(), mailbox.id, [mailbox.email_server_profile_id])

    def _move_due_row(
        self, saved: Mailbox, profile: EmailServerProfile | None, before: str | None, new_key: str | None
    ) -> None:
        """The due row follows the mailbox's next due time, with a claim ticket: the next claim need not read
        the mailbox (sync/scheduling/ticket.py)."""
        if new_key == before:
            return
        if new_key is None:
            self.store.due_index.remove(saved.id, before)
        else:
            claim = ticket.issue(saved, profile, self.organization())
            self.store.due_index.move(saved.id, before, _due_of(new_key), claim.properties() if claim else None)

    def _due_after(
        self, m: Mailbox, report: CycleReport, profile: EmailServerProfile | None, now: datetime,
        retry_at: datetime | None,
    ) -> tuple[datetime, bool]:  # fmt: skip
        """The next due time (a retry's, else the adaptive polling's), no earlier than the poll budget allows;
        and whether the budget held it back. A cycle that left mail on the server (its cap, its time, the
        server's throttling) is not held: the next one drains a backlog the server reported, it does not poll
        (Dynamics too comes back within 2 minutes for a mailbox with many emails, R-SCH-4)."""
        due = retry_at or self._next_poll(m, report, profile, now)
        if m.item_retries_due_on is not None:  # a waiting message is tried when due, however idle the box
            due = max(min(due, m.item_retries_due_on), now)
        if report.more_pending:
            return due, False
        limited = self.poll_budget.limit(due, m.poll_budget_full_on)
        return limited, limited > due

    def _next_poll(
        self, m: Mailbox, report: CycleReport, profile: EmailServerProfile | None, now: datetime
    ) -> datetime:
        """Adaptive polling; a mailbox whose messages are watched by push is polled at the idle cadence only
        (notifications bring its mail: polling is the safety net, docs/push.md)."""
        pushed = m.push_subscribed_until is not None and m.push_subscribed_until > now
        if report.more_pending or (report.fetched > 0 and not pushed):
            return now + timedelta(minutes=self.settings.poll_busy_minutes)
        if pushed:
            return now + timedelta(minutes=self.settings.poll_idle_max_minutes)
        return polling.next_due(
            now, m.no_email_count, busy_minutes=self.settings.poll_busy_minutes,
            idle_max_minutes=self.settings.poll_idle_max_minutes,
            profile_min_minutes=profile.min_polling_interval_minutes if profile else 0,
        )  # fmt: skip

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
        self.profile_alerts.mailbox_failed(org, profile, mailbox, text)  # R-ERR-5, R-ERR-7
        self._finish(item, report, mailbox, profile, now, unschedule=outcome.disabled, retry_at=outcome.retry_at)
        log.warning("mailbox %s: %s (%s)", mailbox.id, report.error, report.status)
        return report

    def _purge_expired_failures(self, mailbox_id: str, now: datetime) -> None:
        """Item-level records are kept N-26 days (3 by default), then removed."""
        for failure in self.store.item_failures.query(
            "PartitionKey eq @pk and expires_on lt @now", {"pk": mailbox_id, "now": now}
        ):
            self.store.item_failures.delete(failure, if_unchanged=False)


@dataclass
class _Cycle:
    """What one cycle carries across its folders: the shared budget, the counts and the marks to apply."""

    item: WorkItem
    report: CycleReport
    org: OrganizationSettings
    profile: EmailServerProfile
    started: float
    exchange: bool
    careful: bool = False  # follows a dead cycle: name each message before processing it
    handled: int = 0
    stopped: MailServerError | None = None
    marks: list[ServerMark] = field(default_factory=list)
    _processor: IncomingProcessor | None = None

    def processor(self, worker: MailboxWorker, mailbox: Mailbox) -> IncomingProcessor:
        if self._processor is None:
            directory = CycleDirectory(worker.store)
            self._processor = IncomingProcessor(
                worker.store, worker.settings, self.org, mailbox, self.profile, directory
            )
        return self._processor

    def exhausted(self, worker: MailboxWorker) -> bool:
        return (
            self.stopped is not None
            or self.handled >= worker.settings.max_emails_per_cycle
            or worker.monotonic() - self.started > worker.settings.worker_budget_seconds
        )

    def count(self, fetched: Fetched, outcome: ItemOutcome) -> None:
        self.report.fetched += fetched.raw is not None
        if fetched.skipped is Reason.ALREADY_PROCESSED:  # a change to an item tracked here: no email, tracked or not
            self.handled += 1
            self.report.revisited += 1
            return
        self.tally(outcome)

    def tally(self, outcome: ItemOutcome) -> None:
        report = self.report
        self.handled += 1
        report.reasons[outcome.reason.label] += 1
        report.tracked += outcome.tracked
        report.not_tracked += not outcome.tracked and outcome.reason not in (Reason.QUARANTINED, Reason.RETRY_PENDING)
        report.quarantined += outcome.reason is Reason.QUARANTINED

    def mark(self, remote: RemoteMessage, outcome: ItemOutcome) -> None:
        """Exchange items get the tracking category, or the undeliverable one (R-REC-7, R-REC-9)."""
        if not self.exchange:
            return
        categorize, move = self.org.track_categorized_items, self.profile.move_undelivered_emails
        found = mark_for(remote, outcome.reason, categorize=categorize, move_undelivered=move)
        if found is not None:
            self.marks.append(found)


@dataclass
class _FolderRun:
    """A folder's progress within a cycle: the watermark in memory and what the checkpoints carry."""

    watermark: FolderWatermark
    keys: list[str]
    deleting: list[str]
    done: list[RemoteMessage] = field(default_factory=list)
    settled: list[RemoteMessage] = field(default_factory=list)  # to delete, for delete-after-processing mailboxes


def _remote(key: str) -> RemoteMessage:
    """A message known only by its key (for deleting what an earlier cycle stored)."""
    head, _, tail = key.partition(":")
    uid = int(tail) if head.isdigit() and tail.isdigit() else None
    return RemoteMessage(key=key, size=0, received_on=None, uid=uid)


def _follows_a_dead_cycle(mailbox: Mailbox) -> bool:
    """The tick broke an expired lease to claim this cycle (it stamps both times with its own)."""
    broken = mailbox.last_forced_unlock_on
    return broken is not None and broken == mailbox.processing_last_attempted_on


def _reading_ahead(processor: IncomingProcessor) -> Callable[[ParsedMessage], object] | None:
    """The address lookups of a parsed message's decision, started before its turn (not for a forward
    mailbox: its decisions read the addresses of the forwarded message inside)."""
    if processor.mailbox.is_forward_mailbox:
        return None
    directory = processor.directory

    def read_ahead(parsed: ParsedMessage) -> int:
        return directory.read_ahead(a.address for a in (*parsed.from_[:1], *parsed.to, *parsed.cc))

    return read_ahead


def _in_progress(marker: InProgressItem) -> Callable[[Mailbox], None]:
    def write(m: Mailbox) -> None:
        m.in_progress = marker

    return write


def _close_quietly(session: IncomingSession | ExchangeSession) -> None:
    try:
        session.close()
    except MailServerError:
        log.info("closing a failed session failed too", exc_info=True)


def _due_of(key: str) -> datetime:
    return parse_row_key(key).due_on
