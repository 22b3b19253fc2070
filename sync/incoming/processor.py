"""Process one fetched message for one mailbox: parse, decide, store. The order is what makes it safe.

1. Parse with guards; classify (loops are dropped, bounces kept only when they correlate).
2. Resolve parties, look up correlation candidates, decide acceptance and owner (pure stages).
3. Accepted: the email's id is derived from the message's key (its Message-ID), so the email row itself
   is the exactly-once claim: attachment blobs first (named by that id, so a retry overwrites them), then
   ONE insert-if-absent of the email row, then the idempotent extras (token and conversation index rows,
   queue items). The blobs and the row are one job of the cycle's write-behind window: the next message
   is decided while they are written, and the row is still never stored before its blobs.
   Not accepted: record why (item failure).
4. The row exists already: received by another mailbox, this mailbox is linked to it (``Duplicate``,
   R-ACC-10/11), never a second activity; received by this mailbox, it is a replay after a crash: the
   extras are written again (idempotent) and the outcome is ``AlreadyProcessed``.
Only after :meth:`IncomingProcessor.process` returns does the worker advance the watermark or delete
anything on the server.

A message the parser cut short (a hard limit or the parse deadline, see :mod:`sync.mail.mime_guards`) is
never stored in part: :meth:`IncomingProcessor.process` raises :class:`MessageOverLimit`, and the worker
quarantines it (raw bytes kept, the limit as the reason) and goes on with the next message.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape

from sync.crm.records import RecordService
from sync.errors import AlreadyExists
from sync.health.alerts import Alerts, invalid_forward_text, mailbox_ref
from sync.incoming.accept import AcceptDecision, Acceptor, accept, accept_sent
from sync.incoming.classify import MessageClass, classify
from sync.incoming.correlate import (
    Candidates,
    Correlation,
    conversation_key,
    correlate,
    subject_key,
    tracking_tokens,
)
from sync.incoming.dedupe import email_id_for, message_key
from sync.incoming.directory import CycleDirectory
from sync.incoming.marks import TRACKED_CATEGORY
from sync.incoming.owner import choose_owner
from sync.incoming.reasons import Reason
from sync.incoming.resolve import SenderResolution, resolve_recipients, resolve_sender
from sync.incoming.sanitize import sanitize
from sync.incoming.sent_lookup import find_sent, indexed_email, named_email, summary_of
from sync.incoming.smart import address_hashes, smart_match, subject_signature
from sync.incoming.write_behind import WriteBehind, email_key, signature_key, token_key
from sync.incoming.write_behind import conversation_key as conversation_touch
from sync.mail.importance import Importance
from sync.mail.mime import ParsedMessage, parse_message
from sync.mail.mime_guards import MessageOverLimit, MimeLimits
from sync.mail.port import INBOX_CONTEXT, FolderContext, FolderRole
from sync.model import Contact, Email, ItemFailure, Lead, Mailbox, OrganizationSettings, QueueItem
from sync.model.email import MAX_INLINE_BODY_CHARS, ActivityParty, AttachmentMeta, BlobRef
from sync.model.fields import SYSTEM_USER, EntityRef, utcnow
from sync.model.lookups import EmailSummary
from sync.model.options import (
    EmailDirection,
    EmailNotification,
    EmailStatus,
    EntityType,
    IncomingDeliveryMethod,
    ParticipationType,
    Priority,
)
from sync.model.profile import EmailServerProfile
from sync.model.records import SystemUser
from sync.settings import Settings
from sync.store.names import Container
from sync.store.overlap import overlap
from sync.store.schema import owned_mailbox_id
from sync.store.store import Store

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
PRIORITY_OF: dict[Importance, Priority] = {"high": Priority.HIGH, "normal": Priority.NORMAL, "low": Priority.LOW}
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$")


def _content_type(value: str | None) -> str:
    """A bare ``type/subtype`` safe for an HTTP header (parameters and folded lines dropped)."""
    bare = (value or "").split(";", 1)[0].strip().lower()
    return bare if _CONTENT_TYPE.match(bare) and len(bare) <= 256 else "application/octet-stream"


@dataclass(frozen=True)
class ItemOutcome:
    reason: Reason
    email_id: str | None = None
    message_key: str | None = None
    # set when the writes went to the cycle's WriteBehind: the outcome once they are done (it may differ:
    # a replay, a duplicate) or their error
    pending: Future[ItemOutcome] | None = field(default=None, compare=False)

    @property
    def tracked(self) -> bool:
        return self.reason.accepted


@dataclass(frozen=True)
class Decision:
    """What the pure stages decided about a message, before anything is written."""

    reason: Reason
    sender: SenderResolution
    recipients: list[ActivityParty]
    tokens: list[str]
    conversation: str | None
    correlation: Correlation
    accepting: EntityRef | None
    smart_signature: str | None = None  # smart matching keys, written with the email when it is tracked
    smart_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """CheckIncomingEmail's answer: what processing would do with a message, nothing stored."""

    reason: Reason
    message_key: str
    details: str = ""
    email_id: str | None = None  # the email already tracked (Duplicate / AlreadyProcessed)
    correlated_email_id: str | None = None
    accepting: EntityRef | None = None


class IncomingProcessor:
    """Runs the pipeline for the messages of one mailbox cycle."""

    def __init__(
        self, store: Store, settings: Settings, org: OrganizationSettings, mailbox: Mailbox,
        profile: EmailServerProfile, directory: CycleDirectory | None = None,
    ) -> None:  # fmt: skip
        self.store = store
        self.settings = settings
        self.org = org
        self.mailbox = mailbox
        self.profile = profile
        self.directory = directory or CycleDirectory(store)
        self.write_behind: WriteBehind | None = None  # the worker's, while it runs a folder's messages

    # --- entry points -------------------------------------------------------------------------------
    def parse(self, raw: bytes) -> ParsedMessage:
        return sanitize(
            parse_message(
                raw,
                max_bytes=self.settings.max_incoming_email_bytes,
                max_nesting=self.settings.mime_max_nesting,
                timeout_seconds=self.settings.mime_parse_timeout_seconds,
                limits=MimeLimits(self.settings.mime_max_parts, self.settings.mime_max_attachments),
            )
        )

    def parse_whole(self, raw: bytes, parsed: ParsedMessage | None = None) -> ParsedMessage:
        """The parse of ``raw`` (``parsed`` when given); MessageOverLimit when a hard limit cut it short."""
        parsed = parsed or self.parse(raw)
        if parsed.cut_short is not None:
            raise MessageOverLimit(parsed.cut_short)
        return parsed

    def process(  # noqa: PLR0911 (one early return per reason a message stops here)
        self, raw: bytes, received_on: datetime | None = None, *, parsed: ParsedMessage | None = None,
        folder: FolderContext = INBOX_CONTEXT, categories: tuple[str, ...] = (),
    ) -> ItemOutcome:  # fmt: skip
        """Decide and store one message; ``parsed`` saves a second parse when the caller parsed it already.

        ``folder`` says where an Exchange message was found (Inbox, Sent Items, a tracked folder) and
        ``categories`` its Outlook categories: both can make a message tracked whatever the filtering.
        A :attr:`FolderRole.PROMOTED` context is the mailbox's user tracking this message
        (DeliverPromoteEmail): tracked whatever the filtering and the start date, created by that user.
        """
        parsed = self.parse_whole(raw, parsed)
        if folder.role in (FolderRole.SENT_ITEMS, FolderRole.PROMOTED):  # the CRM's own sent email: not again
            sent_key = message_key(parsed.message_id, raw)
            sent = find_sent(self.store, parsed.message_id, self.org) if parsed.message_id else None
            if sent is not None:
                if folder.role is FolderRole.PROMOTED and folder.regarding not in (None, sent.regarding):
                    email = self.store.get_email(sent.email_id)
                    self._set_regarding(email, folder.regarding, self.mailbox.owner or SYSTEM_USER)
                return ItemOutcome(Reason.ALREADY_PROCESSED, sent.email_id, sent_key)
        forwarder: EntityRef | None = None
        outer = classify(parsed)
        if outer.kind is MessageClass.LOOP:  # our own mail (a Test & Enable email) is never unwrapped or tracked
            key = message_key(parsed.message_id, raw)
            return self._fail(parsed, key, Reason.LOOP_DETECTED, received_on, details=outer.why)
        promoted = folder.role is FolderRole.PROMOTED
        if self.mailbox.is_forward_mailbox and not promoted:
            unwrapped = self._unwrap_forward(parsed, raw)
            if isinstance(unwrapped, ItemOutcome):
                return unwrapped
            forwarder, raw = unwrapped
            parsed = self.parse_whole(raw)
        key = message_key(parsed.message_id, raw)
        if parsed.headers_only:
            return self._fail(parsed, key, Reason.TOO_LARGE, received_on, details="; ".join(parsed.defects)[:2048])
        kind = classify(parsed)
        if kind.kind is MessageClass.LOOP:
            return self._fail(parsed, key, Reason.LOOP_DETECTED, received_on, details=kind.why)
        if not parsed.from_:
            return self._fail(parsed, key, Reason.INVALID_SENDER, received_on, details="no valid From address")
        if not promoted and self._before_start(parsed, received_on):
            return ItemOutcome(Reason.BEFORE_START_DATE, message_key=key)
        return self._decide_and_store(parsed, raw, key, kind.kind, received_on, forwarder, folder, categories)

    def check(self, raw: bytes, received_on: datetime | None = None) -> CheckResult:  # noqa: PLR0911 (as process)
        """CheckIncomingEmail: the decision :meth:`process` would take, reading only (nothing is stored)."""
        parsed = self.parse(raw)
        if parsed.cut_short is not None:
            return CheckResult(Reason.QUARANTINED, message_key(parsed.message_id, raw), parsed.cut_short)
        forwarder: EntityRef | None = None
        if self.mailbox.is_forward_mailbox:
            found = self._find_forwarder(parsed)
            if isinstance(found, str):
                return CheckResult(Reason.INVALID_FORWARD_MAIL_ITEM, message_key(parsed.message_id, raw), found)
            forwarder, raw = found
            parsed = self.parse(raw)
            if parsed.cut_short is not None:
                return CheckResult(Reason.QUARANTINED, message_key(parsed.message_id, raw), parsed.cut_short)
        key = message_key(parsed.message_id, raw)
        if parsed.headers_only:
            return CheckResult(Reason.TOO_LARGE, key, "; ".join(parsed.defects)[:2048])
        kind = classify(parsed)
        if kind.kind is MessageClass.LOOP:
            return CheckResult(Reason.LOOP_DETECTED, key, kind.why)
        if not parsed.from_:
            return CheckResult(Reason.INVALID_SENDER, key, "no valid From address")
        if self._before_start(parsed, received_on):
            return CheckResult(Reason.BEFORE_START_DATE, key)
        decision = self.decide(parsed, kind.kind, forwarder)
        match = decision.correlation.match
        tracked = self.store.emails.find(email_id_for(key), "email")
        reason = decision.reason
        if tracked is not None:
            reason = Reason.ALREADY_PROCESSED if self.mailbox.id in tracked.mailbox_ids else Reason.DUPLICATE
        tracked_id, correlated_id = (tracked.id if tracked else None), (match.email_id if match else None)
        return CheckResult(reason, key, kind.why, tracked_id, correlated_id, decision.accepting)

    # --- the decision --------------------------------------------------------------------------------
    def decide(
        self, parsed: ParsedMessage, kind: MessageClass, forwarder: EntityRef | None,
        folder: FolderContext = INBOX_CONTEXT, categories: tuple[str, ...] = (),
    ) -> Decision:  # fmt: skip
        """Resolve parties, correlate and accept (R-RES, R-COR, R-ACC): reads indexes, writes nothing."""
        org, directory = self.org, self.directory
        owner_user_id = self._mailbox_owner_user_id()
        sender_address = parsed.from_[0]
        sender = resolve_sender(
            sender_address.address, sender_address.name, directory.matches(sender_address.address), org, owner_user_id
        )
        recipients = resolve_recipients(
            ParticipationType.TO_RECIPIENT, [(a.name, a.address) for a in parsed.to],
            {a.address.casefold(): directory.matches(a.address) for a in parsed.to}, org,
        ) + resolve_recipients(
            ParticipationType.CC_RECIPIENT, [(a.name, a.address) for a in parsed.cc],
            {a.address.casefold(): directory.matches(a.address) for a in parsed.cc}, org,
        )  # fmt: skip
        tokens = tracking_tokens(parsed.subject, org)
        conversation = conversation_key(parsed.thread_index)
        candidates = self._candidates(parsed, tokens, conversation)
        signature: str | None = None
        addresses: list[str] = []
        if org.enable_smart_matching:
            signature = subject_signature(parsed.subject, org)
            addresses = address_hashes([a.address for a in (*parsed.from_, *parsed.to, *parsed.cc)], org)
            if signature and not (candidates.by_in_reply_to or candidates.by_token or candidates.by_conversation):
                smart = smart_match(addresses, self.store.smart_index.find(signature), org, utcnow())
                candidates = dataclasses.replace(candidates, by_smart_match=smart)
        correlation = correlate(parsed.subject, candidates, org)

        acceptors: dict[str, Acceptor] = {}
        mailbox_owner = self.mailbox.owner if forwarder is None else None
        for ref in [mailbox_owner, *[p.party for p in recipients]]:
            if ref is not None and ref.type in (EntityType.SYSTEM_USER, EntityType.QUEUE):
                found = directory.acceptor(ref)
                if found is not None:
                    acceptors[ref.id] = found
        if folder.role is FolderRole.SENT_ITEMS:
            owner = acceptors.get(mailbox_owner.id) if mailbox_owner else None
            decision = accept_sent(owner=owner, recipients=recipients, correlated=correlation.correlated)
        else:
            decision = accept(
                sender=sender.party, recipients=recipients, acceptors=acceptors, mailbox_owner=mailbox_owner,
                correlated=correlation.correlated, org=org, forward_mailbox=forwarder is not None,
            )  # fmt: skip
        if kind is MessageClass.BOUNCE and not correlation.correlated:
            decision = AcceptDecision(Reason.BOUNCE_NOT_CORRELATED)
        decision = self._forced(decision, folder, categories)
        reason = decision.reason
        return Decision(
            reason, sender, recipients, tokens, conversation, correlation, decision.accepting,
            smart_signature=signature, smart_addresses=tuple(addresses),
        )  # fmt: skip

    def _forced(self, decision: AcceptDecision, folder: FolderContext, categories: tuple[str, ...]) -> AcceptDecision:
        """The user's own "Track" (DeliverPromoteEmail), a tracking rule's folder (R-FLT-5) or the tracking
        category (R-IN-7) tracks whatever was decided."""
        if folder.role is FolderRole.PROMOTED and self.mailbox.owner is not None:
            return AcceptDecision(Reason.PROMOTED, self.mailbox.owner)
        if decision.accepted or self.mailbox.owner is None:
            return decision
        if folder.role is FolderRole.TRACKED_FOLDER:
            return AcceptDecision(Reason.FOLDER_TRACKED, self.mailbox.owner)
        if self.org.track_categorized_items and TRACKED_CATEGORY in categories:
            return AcceptDecision(Reason.CATEGORY_TRACKED, self.mailbox.owner)
        return decision

    def _decide_and_store(
        self, parsed: ParsedMessage, raw: bytes, key: str, kind: MessageClass, received_on: datetime | None,
        forwarder: EntityRef | None, folder: FolderContext = INBOX_CONTEXT, categories: tuple[str, ...] = (),
    ) -> ItemOutcome:  # fmt: skip
        decided = self.decide(parsed, kind, forwarder, folder, categories)
        behind = self.write_behind
        if behind is not None and behind.conflicts(_read_keys(parsed, key, decided)):
            behind.drain()  # it read what a write in flight changes: decide again on the stored state
            decided = self.decide(parsed, kind, forwarder, folder, categories)
        reason, sender, recipients = decided.reason, decided.sender, decided.recipients
        tokens, conversation, correlation = decided.tokens, decided.conversation, decided.correlation
        org, directory = self.org, self.directory
        owner_user_id = self._mailbox_owner_user_id()
        sender_address = parsed.from_[0]
        if not reason.accepted:
            tracked = self.store.emails.find(email_id_for(key), "email")
            if tracked is not None:
                if self.mailbox.id in tracked.mailbox_ids:
                    return ItemOutcome(Reason.ALREADY_PROCESSED, tracked.id, key)
                return self._link_duplicate(parsed, key, tracked, received_on, None)
            return self._fail(parsed, key, reason, received_on)

        sender_matches = directory.matches(sender_address.address)
        sender_owner = next(
            (m.owner_user_id for m in sender_matches if sender.party.party and m.id == sender.party.party.id), None
        )
        owner = choose_owner(
            recipients=recipients,
            queue_owners={p.party.id: directory.queue_owner(p.party.id) for p in recipients
                          if p.party and p.party.type is EntityType.QUEUE},
            correlated_owner=correlation.match.owner if correlation.match else None,
            sender_record_owner_user_id=sender_owner,
            mailbox_owner_user_id=owner_user_id,
        )  # fmt: skip
        email_id = email_id_for(key)
        sent = folder.role is FolderRole.SENT_ITEMS
        author = self.mailbox.owner if folder.role is FolderRole.PROMOTED and self.mailbox.owner else SYSTEM_USER
        summary = EmailSummary(
            email_id=email_id,
            regarding=folder.regarding or (correlation.match.regarding if correlation.match else None),
            owner=owner,
            subject_key=subject_key(parsed.subject, org),
            direction=EmailDirection.OUTGOING if sent else EmailDirection.INCOMING,
        )
        if sender.party.party is None and kind is MessageClass.NORMAL:
            created = self._auto_create_sender(sender_address.address, sender_address.name, owner)
            if created is not None:
                sender = SenderResolution(sender.party.model_copy(update={"party": created}))
        email, uploads = self._build_email(
            parsed, email_id, sender.party, recipients, reason, decided.accepting, correlation, tokens,
            summary, received_on, sender.duplicate_unresolved, author,
        )  # fmt: skip

        def write() -> ItemOutcome:
            overlap(uploads)  # every blob the row points at is stored before the row
            return self._store_email(email, parsed, key, received_on, folder, author, reason, decided, summary)

        if behind is None:
            return write()
        touches = [email_key(email_id), *(token_key(t) for t in tokens[:1])]
        if conversation:
            touches.append(conversation_touch(conversation))
        if decided.smart_signature:
            touches.append(signature_key(decided.smart_signature))
        return ItemOutcome(reason, email_id, key, pending=behind.submit(write, touches))

    def _store_email(
        self, email: Email, parsed: ParsedMessage, key: str, received_on: datetime | None, folder: FolderContext,
        author: EntityRef, reason: Reason, decided: Decision, summary: EmailSummary,
    ) -> ItemOutcome:  # fmt: skip
        """The email row (the exactly-once claim), then its idempotent extras, overlapped."""
        existing: Email | None = None
        try:
            self.store.emails.insert(email)  # the insert decides: one request when the message is new
        except AlreadyExists:  # stored before: by another mailbox, or by this one before a crash
            existing = self.store.get_email(email.id)
        if existing is not None:
            stored = self._stored_before(parsed, key, existing, received_on, folder, author)
            if isinstance(stored, ItemOutcome):
                return stored
            email, reason = stored, Reason.ALREADY_PROCESSED  # a replay: finish the idempotent extras below
        extras: list[Callable[[], object]] = []
        if decided.tokens:
            token = decided.tokens[0]
            extras.append(lambda: self.store.token_index.add(token, summary))
        if decided.conversation:
            conversation = decided.conversation
            extras.append(lambda: self.store.conversation_index.add(conversation, summary))
        if decided.smart_signature:
            signature, hashes, created = decided.smart_signature, list(decided.smart_addresses), email.created_on
            extras.append(lambda: self.store.smart_index.add(signature, summary, hashes, created))
        for address in {p.address_used for p in email.parties if p.party is None and p.address_used}:
            extras.append(functools.partial(self.store.unresolved_index.add, address, email.id))  # R-RES-7
        extras.append(lambda: self._queue_items(email, decided.recipients))
        overlap(extras)
        return ItemOutcome(reason, email.id, key)

    def _stored_before(
        self, parsed: ParsedMessage, key: str, existing: Email, received_on: datetime | None,
        folder: FolderContext, author: EntityRef,
    ) -> Email | ItemOutcome:  # fmt: skip
        """The email exists: another mailbox's is linked (Duplicate); this mailbox's is a replay, set regarding
        a rule's record when it moved into the rule's folder (R-FLT-7) or the user tracked it again with one."""
        if self.mailbox.id not in existing.mailbox_ids:
            outcome = self._link_duplicate(parsed, key, existing, received_on, folder.regarding)
            if folder.role is FolderRole.PROMOTED and folder.regarding not in (None, existing.regarding):
                self._set_regarding(existing, folder.regarding, author)  # the user's own choice wins
            return outcome
        if folder.regarding is not None and existing.regarding != folder.regarding:
            return self._set_regarding(existing, folder.regarding, author)
        return existing

    def _candidates(self, parsed: ParsedMessage, tokens: list[str], conversation: str | None) -> Candidates:
        by_reply = None
        if parsed.in_reply_to:
            # an email the CRM sent (its Message-ID names it), else one it received (its id comes from the
            # Message-ID's key), else one sent before Message-IDs named emails (the MessageIndex)
            replied = named_email(self.store, parsed.in_reply_to) or self.store.emails.find(
                email_id_for(message_key(parsed.in_reply_to, b"")), "email"
            )
            by_reply = summary_of(replied, self.org) if replied is not None else None
            by_reply = by_reply or indexed_email(self.store, parsed.in_reply_to)
        by_token: list[EmailSummary] = []
        for token in tokens:
            by_token = self._still_stored(self.store.token_index.find(token))
            if by_token:
                break
        by_conversation = self.store.conversation_index.find(conversation) if conversation and not by_reply else []
        return Candidates(by_in_reply_to=by_reply, by_token=by_token, by_conversation=by_conversation)

    def _still_stored(self, by_token: list[EmailSummary]) -> list[EmailSummary]:
        """The token's emails that exist, read only when it names several: a create-and-send that failed
        before its insert leaves a row for a token no message carried, which a later email may reuse once
        the counter wraps (R-COR-12); a token with one row was carried by that email, or by none."""
        if len(by_token) < 2:
            return by_token
        return [s for s in by_token if self.store.emails.find(s.email_id, "email") is not None]

    # --- writing ------------------------------------------------------------------------------------
    def _build_email(
        self, parsed: ParsedMessage, email_id: str, sender: ActivityParty, recipients: list[ActivityParty],
        reason: Reason, accepting: EntityRef | None, correlation: Correlation, tokens: list[str], summary: EmailSummary,
        received_on: datetime | None, duplicate_sender: bool, author: EntityRef = SYSTEM_USER,
    ) -> tuple[Email, list[Callable[[], BlobRef]]]:  # fmt: skip
        """The email row and the uploads of the blobs it points at (named by the email id, so their
        references are known before they are stored): the caller stores them before the row."""
        html = parsed.html_body or (f"<pre>{escape(parsed.text_body)}</pre>" if parsed.text_body else "")
        body_ref = None
        uploads: list[Callable[[], BlobRef]] = []
        if len(html) > MAX_INLINE_BODY_CHARS:  # rare: most bodies live in the row, one write for the email
            body, kind = html.encode("utf-8"), "text/html; charset=utf-8"
            body_ref, upload = self._planned_blob(Container.BODIES, f"{email_id}.html", body, kind)
            uploads.append(upload)
        attachments, notification, attachment_uploads = self._plan_attachments(email_id, parsed)
        uploads += attachment_uploads
        headers = {k: v for k, v in parsed.selected_headers.items() if k.lower() in ("auto-submitted", "reply-to")}
        email = Email(
            id=email_id,
            subject=(parsed.subject or "")[:800],
            direction=summary.direction,  # outgoing for the user's own sent mail (R-IN-5): already sent
            status=EmailStatus.SENT if summary.direction is EmailDirection.OUTGOING else EmailStatus.RECEIVED,
            description=html if body_ref is None and html else None,
            body_blob=body_ref,
            body_preview=(parsed.text_body or "")[:2048],
            priority=PRIORITY_OF[parsed.importance or "normal"],  # R-REC-1: the Importance the sender set
            mime_type="message/rfc822",
            parties=[sender, *recipients],
            sender=parsed.from_[0].address[:250],
            to_recipients="; ".join(a.address for a in parsed.to)[:500] or None,
            submitted_by=(self.mailbox.email_address or "")[:250] or None,
            is_duplicate_sender_unresolved=duplicate_sender,
            message_id=(parsed.message_id or "")[:320] or None,
            in_reply_to=(parsed.in_reply_to or "")[:320] or None,
            references=[r[:320] for r in parsed.references[:50]],
            conversation_index=(parsed.thread_index or "")[:2048] or None,
            tracking_token=tokens[0][:50] if tokens else None,
            internet_message_headers=json.dumps(headers)[:500] if headers else None,
            correlation_method=correlation.method,
            correlated_activity_id=correlation.match.email_id if correlation.match else None,
            correlated_subject_changed=correlation.subject_changed,
            parent_activity_id=correlation.parent_activity_id,
            regarding=summary.regarding,
            accepting_entity=accepting,
            receiving_mailbox_id=self.mailbox.id,
            mailbox_ids=[self.mailbox.id],
            owner=summary.owner,
            received_on=received_on or parsed.date or utcnow(),
            sent_on=(parsed.date or received_on) if summary.direction is EmailDirection.OUTGOING else None,
            notifications=notification,
            attachments=attachments,
            created_by=author,  # SYSTEM for automatic tracking, the user for a promote (R-REC-12)
            modified_by=author,
        )
        return email, uploads

    def _planned_blob(
        self, container: Container, name: str, data: bytes, content_type: str
    ) -> tuple[BlobRef, Callable[[], BlobRef]]:
        """The reference a blob will have, and the upload that stores it (run later, before the row)."""
        ref = BlobRef(container=container.value, name=name, size=len(data), content_type=content_type)
        return ref, functools.partial(self.store.blobs.put, container, name, data, content_type)

    def _plan_attachments(
        self, email_id: str, parsed: ParsedMessage
    ) -> tuple[list[AttachmentMeta], EmailNotification, list[Callable[[], BlobRef]]]:
        """Attachments to Blob, to be uploaded together; blocked types and files over the upload limit are
        dropped (R-REC-5). All are stored before the email row that points at them is written."""
        blocked = {e.strip().lower() for e in self.org.blocked_attachments.split(";") if e.strip()}
        notification = EmailNotification.NONE
        metas: list[AttachmentMeta] = []
        uploads: list[Callable[[], BlobRef]] = []
        for n, att in enumerate(parsed.attachments):
            name = att.file_name or f"attachment-{n + 1}"
            extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            meta = AttachmentMeta(
                file_name=name[:256],
                mime_type=_content_type(att.content_type),
                size=att.size,
                content_id=(att.content_id or None) and att.content_id[:256],
                is_inline=att.is_inline,
            )
            if extension in blocked or att.size > self.org.max_upload_file_size_bytes:
                notification = EmailNotification.ATTACHMENTS_NOT_SAVED
            else:
                blob_name = f"{email_id}/{n + 1}-{_SAFE_NAME.sub('_', name)[:100]}"
                meta.blob, upload = self._planned_blob(Container.ATTACHMENTS, blob_name, att.data, meta.mime_type)
                uploads.append(upload)
            metas.append(meta)
        return metas, notification, uploads

    def _queue_items(self, email: Email, recipients: list[ActivityParty]) -> None:
        """A queue item for each resolved queue recipient, and for the synchronizing queue (R-REC-6, C-3)."""
        queues: list[str] = []
        if self.org.create_queue_items_for_accepting_queue_recipients:
            queues += [p.party.id for p in recipients if p.party and p.party.type is EntityType.QUEUE]
        if (
            self.mailbox.is_queue_mailbox
            and self.org.create_queue_item_for_synchronizing_mailbox
            and self.mailbox.owner
        ):
            queues.append(self.mailbox.owner.id)
        for queue_id in dict.fromkeys(queues):
            self._put_queue_item(queue_id, email.id, email.subject)

    def _put_queue_item(self, queue_id: str, email_id: str, title: str) -> None:
        item_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"queueitem:{queue_id}:{email_id}"))  # idempotent on replay
        self.store.queue_items.upsert(
            QueueItem(
                id=item_id, queue_id=queue_id, object=EntityRef(type=EntityType.EMAIL, id=email_id), title=title[:800]
            )
        )

    def _link_duplicate(
        self, parsed: ParsedMessage, key: str, email: Email, received_on: datetime | None,
        regarding: EntityRef | None,
    ) -> ItemOutcome:  # fmt: skip
        """Another mailbox tracked it: link this mailbox, add the queue's item (R-ACC-10/11), record Duplicate.

        A tracking rule's regarding record applies to it too; of two rules, the first processed wins (R-FLT-10).
        """

        def link(stored: Email) -> None:
            if self.mailbox.id not in stored.mailbox_ids:
                stored.mailbox_ids = [*stored.mailbox_ids, self.mailbox.id]
            if regarding is not None and stored.regarding is None:
                stored.regarding = regarding

        self.store.emails.modify(email.id, "email", link)
        if (
            self.mailbox.is_queue_mailbox
            and self.mailbox.owner
            and (
                self.org.create_queue_item_for_synchronizing_mailbox
                or self.org.create_additional_queue_items_for_already_tracked_email
            )
        ):
            self._put_queue_item(self.mailbox.owner.id, email.id, parsed.subject or "")
        self._fail(parsed, key, Reason.DUPLICATE, received_on, email_id=email.id,
                   details=f"already tracked as email {email.id}")  # fmt: skip
        return ItemOutcome(Reason.DUPLICATE, email.id, key)

    def _set_regarding(self, email: Email, regarding: EntityRef | None, by: EntityRef) -> Email:
        def change(stored: Email) -> None:
            stored.regarding, stored.modified_by = regarding, by

        return self.store.emails.modify(email.id, "email", change)

    def _fail(
        self, parsed: ParsedMessage, key: str, reason: Reason, received_on: datetime | None, *,
        details: str | None = None, email_id: str | None = None, quarantine_blob: str | None = None,
    ) -> ItemOutcome:  # fmt: skip
        now = utcnow()
        self.store.item_failures.upsert(
            ItemFailure(
                mailbox_id=self.mailbox.id, message_key=key[:1024], message_id=(parsed.message_id or "")[:1024] or None,
                subject=(parsed.subject or "")[:800], sender=(parsed.from_[0].address if parsed.from_ else None),
                reason=reason.label, reason_code=int(reason), details=details, received_on=received_on or parsed.date,
                expires_on=now + timedelta(days=self.settings.item_failure_retention_days),
                quarantine_blob=quarantine_blob, email_id=email_id,
            )
        )  # fmt: skip
        return ItemOutcome(reason, email_id, key)

    # --- helpers ------------------------------------------------------------------------------------
    def _mailbox_owner_user_id(self) -> str | None:
        owner = self.mailbox.owner
        if owner is None:
            return None
        if owner.type is EntityType.SYSTEM_USER:
            return owner.id
        return self.directory.queue_owner(owner.id)

    def start_date(self) -> datetime | None:
        """R-IN-2/3: the effective start is the later of the profile's and the mailbox's dates."""
        starts = [
            d for d in (self.profile.process_emails_received_after, self.mailbox.process_email_received_after) if d
        ]
        return max(starts) if starts else None

    def tracked_here(self, message_id: str) -> bool:
        """This mailbox tracked the message already (one point read; lets a connector skip the download)."""
        email = self.store.emails.find(email_id_for(message_key(message_id, b"")), "email")
        return email is not None and self.mailbox.id in email.mailbox_ids

    def _before_start(self, parsed: ParsedMessage, received_on: datetime | None) -> bool:
        start, when = self.start_date(), received_on or parsed.date
        return bool(start and when and when < start)

    def _auto_create_sender(self, address: str, name: str, owner: EntityRef | None) -> EntityRef | None:
        """R-RES-11: a contact (or lead) for an unknown sender when the owner asks for it."""
        if not self.org.auto_create_contact_on_promote or owner is None:
            return None
        user = self.directory.record(owner)
        if not isinstance(user, SystemUser) or not user.auto_create_records:
            return None
        first, _, last = (name or address.split("@", maxsplit=1)[0]).strip().rpartition(" ")
        fields = {"first_name": first or None, "last_name": (last or address)[:100], "email_address1": address,
                  "owner_user_id": user.id}  # fmt: skip
        try:  # an address the parser kept may still not be a mailbox a record can hold (sync.model.address_syntax)
            record: Contact | Lead = (
                Lead(**fields) if user.auto_create_record_type is EntityType.LEAD else Contact(**fields)
            )
            RecordService(self.store).create(record)
        except ValueError:
            return None
        self.directory.forget(address)  # the next message from this sender resolves to the new record
        return EntityRef(type=record.entity_type, id=record.id)

    def _unwrap_forward(self, parsed: ParsedMessage, raw: bytes) -> tuple[EntityRef, bytes] | ItemOutcome:
        """R-FWD-7/8: the attached message is the email; the forwarder must deliver through a forward mailbox."""
        found = self._find_forwarder(parsed)
        if isinstance(found, str):
            key = message_key(parsed.message_id, raw)
            forwarder = parsed.from_[0].address if parsed.from_ else ""
            alert = invalid_forward_text(self.mailbox, forwarder, found, (parsed.subject or "")[:200])
            Alerts(self.store).raise_alert(self.org, alert, mailbox_ref(self.mailbox), mailbox_id=self.mailbox.id,
                                           profile_id=self.profile.id)  # fmt: skip
            return self._fail(parsed, key, Reason.INVALID_FORWARD_MAIL_ITEM, None, details=found)
        return found

    def _find_forwarder(self, parsed: ParsedMessage) -> tuple[EntityRef, bytes] | str:
        """The forwarding user or queue and the attached message, or why it is not a valid forward (reads only)."""
        if not parsed.embedded_messages:
            return "not forwarded as an attachment"
        forwarder_address = parsed.from_[0].address if parsed.from_ else ""
        for match in self.directory.matches(forwarder_address):
            if match.type not in (EntityType.SYSTEM_USER, EntityType.QUEUE):
                continue
            ref = EntityRef(type=match.type, id=match.id)
            mailbox = self.store.find_mailbox(owned_mailbox_id(ref))
            if mailbox is not None and mailbox.incoming_method is IncomingDeliveryMethod.FORWARD_MAILBOX:
                return ref, parsed.embedded_messages[0]
        return f"{forwarder_address} does not deliver through a forward mailbox"


def _read_keys(parsed: ParsedMessage, key: str, decided: Decision) -> list[str]:
    """What a decision read that a tracked email's writes can change (see :mod:`sync.incoming.write_behind`)."""
    keys = [email_key(email_id_for(key)), *(token_key(t) for t in decided.tokens)]
    if parsed.in_reply_to:
        keys.append(email_key(email_id_for(message_key(parsed.in_reply_to, b""))))
    if decided.conversation:
        keys.append(conversation_touch(decided.conversation))
    if decided.smart_signature:
        keys.append(signature_key(decided.smart_signature))
    return keys
