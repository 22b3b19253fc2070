"""Email activities for sending: create a draft, SendEmail, GetTrackingTokenEmail (R-OUT-1/2/4/5, R-COR-13).

SendEmail with ``issue_send`` (R-OUT-1) gives the email its tracking token and its Message-ID, which names
the email (``message_ids``: a reply finds it with one read, no index row), indexes the token for
correlation (so a reply is tracked even if it arrives before the sender records Sent), adds it to the
outbox index, writes Pending Send and enqueues it, in that order: a crash at any point leaves either a
Draft (the call failed; call again: the same Message-ID is reused) or a Pending Send email the outbox
sweep finds. Without ``issue_send`` it is marked Sent as it is (R-OUT-2).

``create_and_send`` does both in one call (as Microsoft Graph's sendMail): the token row and the outbox
entry first, then the email inserted as Pending Send, then its queue message. A failure before the insert
stores no email and queues nothing; the rows it may leave are harmless (the token is in no message, the
sweep drops an outbox entry whose email does not exist).

Send-as (R-OUT-4), reduced to what this service can check: the *acting user* is the email's owner
(``owner_user_id`` of the draft, else the From user). A user may send as another user only when that
user allows others to send on their behalf (``allow_send_on_behalf``); the other user then appears in
``From`` and the acting user in ``Sender``. A queue's email may be sent by any user (the admin API's
authorization decides who may act at all); the acting user, when given, appears in ``Sender``.
The "Send Email as Another User" privilege itself is the admin API's authorization, not checked here.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync.errors import AlreadyExists, ConcurrencyConflict, NotFound, SyncError, ValidationFailed
from sync.incoming.correlate import subject_key
from sync.incoming.dedupe import message_key
from sync.incoming.resolve import resolve_recipients
from sync.incoming.smart import address_hashes, subject_signature
from sync.model import Email, Mailbox, OrganizationSettings, Queue, SystemUser
from sync.model.email import MAX_INLINE_BODY_CHARS, ActivityParty, AttachmentMeta
from sync.model.fields import EntityRef, normalize_address, utcnow
from sync.model.lookups import EmailSummary
from sync.model.options import EmailDirection, EmailStatus, EntityType, ParticipationType, Priority
from sync.model.records import EmailEnabled
from sync.outgoing import state, tokens
from sync.outgoing.compose import ComposeError, mail_address, message_id_for
from sync.outgoing.counter_blocks import CounterBlocks
from sync.outgoing.message_ids import email_id_named_by
from sync.outgoing.messages import OutboxQueue, WorkSigner
from sync.store.names import Container, Table
from sync.store.outbox import OutboxIndex
from sync.store.overlap import overlap
from sync.store.read_cache import ReadCache
from sync.store.schema import owned_mailbox_id
from sync.store.store import Store

LOST_MESSAGE_GRACE = timedelta(minutes=15)  # the sweep looks at a Pending Send email this long after it was due
MAX_RECIPIENTS = 500
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_TOKEN = re.compile(r"^[^\s\x00-\x1f\x7f]{1,50}$")
SENDABLE = (EmailStatus.DRAFT, EmailStatus.FAILED)
# whose addresses a reply shares (From, To, Cc): hashed for smart matching, as for tracked mail
SMART_PARTIES = (ParticipationType.SENDER, ParticipationType.TO_RECIPIENT, ParticipationType.CC_RECIPIENT)


class SendAsDenied(SyncError):
    """R-OUT-4: the acting user may not send as the From user."""


class EmailStateConflict(SyncError):
    """The email is not in a state that allows the operation (already sent, already queued...)."""


@dataclass(frozen=True)
class PartyInput:
    """A recipient: a record (``ref``) or a raw address with an optional display name."""

    ref: EntityRef | None = None
    address: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class AttachmentInput:
    file_name: str
    content_base64: str
    content_type: str = "application/octet-stream"
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True)
class DraftSpec:
    sender: EntityRef  # a user or a queue (From)
    subject: str = ""
    to: Sequence[PartyInput] = ()
    cc: Sequence[PartyInput] = ()
    bcc: Sequence[PartyInput] = ()
    html_body: str | None = None
    text_body: str | None = None
    attachments: Sequence[AttachmentInput] = ()
    regarding: EntityRef | None = None
    owner_user_id: str | None = None  # the acting user (R-OUT-4)
    send_later: datetime | None = None  # R-OUT-13
    in_reply_to_email_id: str | None = None
    priority: Priority = Priority.NORMAL


class OutgoingEmails:
    """Create and SendEmail; ``cache`` (the admin API's) serves the organization, mailbox and sender rows.

    Without a cache every call reads them afresh; with one, an administrator's change to them reaches the
    API within the cache's lifetime, as it reaches the workers and the sender (``ReadCache``); the sender
    still checks the sending mailbox's eligibility before each attempt. With
    ``counters``, tracking-token counter values come from a block this process reserved (``CounterBlocks``).
    """

    def __init__(
        self,
        store: Store,
        queue: OutboxQueue,
        signer: WorkSigner,
        clock: Callable[[], datetime] = utcnow,
        cache: ReadCache | None = None,
        counters: CounterBlocks | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.signer = signer
        self.clock = clock
        self.cache = cache
        self.counters = counters
        self.outbox = OutboxIndex(store.account.table(Table.OUTBOX))

    # --- drafts -------------------------------------------------------------------------------------
    def create_draft(self, spec: DraftSpec) -> Email:
        """A Draft email activity from ``spec``; ValidationFailed (with the field) for bad input."""
        email, _, _, _ = self._new_email(spec)
        return self.store.emails.insert(email)

    def create_and_send(self, spec: DraftSpec) -> Email:
        """Create the email and SendEmail it in one call: inserted as Pending Send, then queued.

        The same checks as :meth:`create_draft` then :meth:`send`; the token row and the outbox entry are
        written (together) before the email, so nothing is queued, and no email stored, unless both are.
        """
        email, sender_record, acting, org = self._new_email(spec)
        self._check_recipients(email, org)
        mailbox = self._sending_mailbox(email, sender_record, acting)
        now = self.clock()
        self._ready_to_send(email, sender_record, acting, mailbox, None)
        due = max(now, email.delayed_email_send_time or now)
        self._index(email, org, mailbox.id, also=lambda: self.outbox.add(email.id, due + LOST_MESSAGE_GRACE))
        email.status = EmailStatus.PENDING_SEND
        written = self.store.emails.insert(email)
        self.queue.put(self.signer.work(written), due - now)
        return written

    def _new_email(self, spec: DraftSpec) -> tuple[Email, SystemUser | Queue, SystemUser | None, OrganizationSettings]:
        """The Draft ``spec`` describes (not stored), its From record, acting user and the organization."""
        org = self._organization()
        sender_record, sender_party = self._sender(spec.sender)
        acting = self._acting_user(spec.owner_user_id)
        self._check_send_as(sender_record, acting)
        parties = [sender_party]
        if acting is not None and acting.id != sender_record.id:
            parties.append(_party(ParticipationType.OWNER, acting, acting.internal_email_address))
        for participation, name, inputs in (
            (ParticipationType.TO_RECIPIENT, "to", spec.to),
            (ParticipationType.CC_RECIPIENT, "cc", spec.cc),
            (ParticipationType.BCC_RECIPIENT, "bcc", spec.bcc),
        ):
            parties += self._recipients(participation, name, inputs, org)
        if sum(len(p) for p in (spec.to, spec.cc, spec.bcc)) > MAX_RECIPIENTS:
            raise ValidationFailed(f"at most {MAX_RECIPIENTS} recipients", field="to")
        if spec.regarding is not None and self.store.find_record(spec.regarding.type, spec.regarding.id) is None:
            raise ValidationFailed(f"no {_type_name(spec.regarding.type)} {spec.regarding.id}", field="regarding")
        email = Email(
            direction=EmailDirection.OUTGOING,
            status=EmailStatus.DRAFT,
            subject=spec.subject,
            text_body=spec.text_body,
            parties=parties,
            sender=sender_party.address_used,
            to_recipients="; ".join(_addresses(parties, ParticipationType.TO_RECIPIENT))[:500] or None,
            regarding=spec.regarding,
            owner=EntityRef(type=EntityType.SYSTEM_USER, id=acting.id) if acting else _owner_of(sender_record),
            delayed_email_send_time=spec.send_later,
            priority=spec.priority,
            mime_type="text/html" if spec.html_body is not None else "text/plain",
        )
        if spec.in_reply_to_email_id:
            self._reply_to(email, spec.in_reply_to_email_id)
        self._body(email, spec.html_body)
        email.attachments = self._attachments(email.id, spec.attachments, org)
        return email, sender_record, acting, org

    # --- SendEmail ----------------------------------------------------------------------------------
    def send(self, email_id: str, *, issue_send: bool = True, tracking_token: str | None = None) -> Email:
        """SendEmail: Pending Send and queued (``issue_send``), or marked Sent without sending (R-OUT-1/2)."""
        email = self.store.get_email(email_id)
        if email.direction is not EmailDirection.OUTGOING or email.status not in SENDABLE:
            raise EmailStateConflict(
                f"email {email_id} is {email.status.name.replace('_', ' ').title()}; only a Draft or Failed "
                f"outgoing email can be sent"
            )
        if tracking_token is not None and not _TOKEN.match(tracking_token):
            raise ValidationFailed("a tracking token is 1-50 characters without spaces", field="tracking_token")
        org = self._organization()
        self._check_recipients(email, org)
        sender_record, _ = self._sender(self._sender_ref(email))
        acting = self._acting_user(_owner_party_id(email))
        mailbox = self._sending_mailbox(email, sender_record, acting)
        now = self.clock()
        if not issue_send:  # R-OUT-2: the client sent it already
            email.tracking_token = tracking_token or email.tracking_token
            email.sender_mailbox_id = mailbox.id
            email.submitted_by = (mailbox.email_address or "")[:250] or None
            self._index(email, org, mailbox.id)
            email.status = EmailStatus.SENT
            email.sent_on = now
            return self._save(email)
        self._ready_to_send(email, sender_record, acting, mailbox, tracking_token)
        due = max(now, email.delayed_email_send_time or now)
        # the index rows and the outbox entry are independent of each other: written together, all before
        # Pending Send (a failure of any leaves the email as it was, with nothing queued)
        self._index(email, org, mailbox.id, also=lambda: self.outbox.add(email.id, due + LOST_MESSAGE_GRACE))
        if email.status is EmailStatus.FAILED:
            state.reopen(email)
        email.status = EmailStatus.PENDING_SEND
        email.send_attempt_id = None
        written = self._save(email)
        self.queue.put(self.signer.work(written), due - now)
        return written

    def tracking_token(self, subject: str = "", user_id: str | None = None) -> tuple[str, str]:
        """GetTrackingTokenEmail: a new token and the subject with it appended (R-COR-13/14)."""
        user = self._acting_user(user_id)
        token = self._new_token(user)
        org = self.store.get_organization()
        return token, tokens.subject_with_token(subject, token, org.maximum_subject_length_on_mail_server)

    # --- helpers ------------------------------------------------------------------------------------
    def _sending_mailbox(self, email: Email, sender: SystemUser | Queue, acting: SystemUser | None) -> Mailbox:
        """The From user's or queue's mailbox (R-OUT-3), once send-as is allowed (R-OUT-4)."""
        self._check_send_as(sender, acting)
        sender_ref = self._sender_ref(email)
        mailbox = self._mailbox(owned_mailbox_id(sender_ref))
        if mailbox is None:
            raise ValidationFailed(f"the {_type_name(sender_ref.type)} in From has no mailbox", field="from")
        return mailbox

    def _ready_to_send(
        self, email: Email, sender: SystemUser | Queue, acting: SystemUser | None, mailbox: Mailbox, token: str | None
    ) -> None:
        """The token (``token``, the email's, or a new one), the Message-ID naming the email, the mailbox."""
        email.tracking_token = token or email.tracking_token
        if email.tracking_token is None:
            email.tracking_token = self._new_token(_token_user(email, sender, acting))
        if email.message_id is None:
            email.message_id = message_id_for(email.id, email.sender or "")
        email.sender_mailbox_id = mailbox.id
        email.submitted_by = (mailbox.email_address or "")[:250] or None

    def _sender(self, ref: EntityRef) -> tuple[SystemUser | Queue, ActivityParty]:
        if ref.type not in (EntityType.SYSTEM_USER, EntityType.QUEUE):
            raise ValidationFailed("an email is sent from a user or a queue", field="from")
        record = self.cache.record(ref.type, ref.id) if self.cache is not None else None
        record = record or self.store.find_record(ref.type, ref.id)
        if not isinstance(record, (SystemUser, Queue)):
            raise ValidationFailed(f"no {_type_name(ref.type)} {ref.id}", field="from")
        address = record.internal_email_address if isinstance(record, SystemUser) else record.email_address
        what = f"the {_type_name(ref.type)} {record.display_name}"
        if not address:
            raise ValidationFailed(f"{what} has no email address", field="from")
        if not record.is_active or (isinstance(record, SystemUser) and record.is_disabled):
            raise ValidationFailed(f"{what} is not active", field="from")
        return record, _party(ParticipationType.SENDER, record, address)

    def _acting_user(self, user_id: str | None) -> SystemUser | None:
        if user_id is None:
            return None
        user = self.store.find_record(EntityType.SYSTEM_USER, user_id)
        if not isinstance(user, SystemUser):
            raise ValidationFailed(f"no user {user_id}", field="owner_user_id")
        return user

    @staticmethod
    def _check_send_as(sender: SystemUser | Queue, acting: SystemUser | None) -> None:
        other_user = isinstance(sender, SystemUser) and acting is not None and acting.id != sender.id
        if other_user and isinstance(sender, SystemUser) and not sender.allow_send_on_behalf:
            raise SendAsDenied(
                f"You cannot send email as the selected user. {sender.full_name} has not allowed other users to "
                f"send email on their behalf (User does not have send-as privilege)."
            )

    def _recipients(
        self, participation: ParticipationType, name: str, inputs: Sequence[PartyInput], org: OrganizationSettings
    ) -> list[ActivityParty]:
        parties: list[ActivityParty] = []
        unresolved: list[str] = []
        for n, item in enumerate(inputs):
            where = f"{name}.{n}"
            if item.ref is not None:
                record = self.store.find_record(item.ref.type, item.ref.id)
                if record is None:
                    raise ValidationFailed(f"no {_type_name(item.ref.type)} {item.ref.id}", field=where)
                address = next((a for a in record.email_columns().values() if a), None)
                if address is None:
                    raise ValidationFailed(f"{record.display_name} has no email address", field=where)
                parties.append(_party(participation, record, address))
                continue
            address = _checked_address(item.address, where)
            matches = {normalize_address(address): self.store.address_index.lookup(address)}
            found = resolve_recipients(participation, [(item.name or "", address)], matches, org)
            for party in found:
                party.display_name = (item.name or "")[:200] or None
            if any(not p.is_resolved for p in found) and not org.allow_unresolved_parties_on_email_send:
                unresolved.append(f"{where} {address}")
            parties += found
        if unresolved:  # R-OUT-5
            raise ValidationFailed(
                "recipients that match no record are not allowed by the organization "
                f"(allow unresolved parties on email send is off): {', '.join(unresolved)}",
                field=name,
            )
        return parties

    def _check_recipients(self, email: Email, org: OrganizationSettings) -> None:
        listed = [p for p in email.parties if p.participation in state.RECIPIENT_TYPES]
        if not listed:
            raise ValidationFailed("the email has no recipients", field="to")
        unresolved = [p.address_used or "" for p in listed if not p.is_resolved]
        if unresolved and not org.allow_unresolved_parties_on_email_send:  # R-OUT-5, again: it may have changed
            raise ValidationFailed(
                f"recipients that match no record are not allowed by the organization: {', '.join(unresolved)}",
                field="to",
            )

    def _reply_to(self, email: Email, replied_id: str) -> None:
        replied = self.store.emails.find(replied_id, "email")
        if replied is None:
            raise ValidationFailed(f"no email {replied_id} to reply to", field="in_reply_to_email_id")
        if not replied.message_id:
            raise ValidationFailed("the email replied to has no Message-ID", field="in_reply_to_email_id")
        email.in_reply_to = replied.message_id
        email.references = [*replied.references, replied.message_id][-32:]
        email.regarding = email.regarding or replied.regarding
        email.parent_activity_id = replied.id

    def _body(self, email: Email, html: str | None) -> None:
        if html is None or len(html) <= MAX_INLINE_BODY_CHARS:
            email.description = html
            return
        email.body_blob = self.store.blobs.put(
            Container.BODIES, f"{email.id}.html", html.encode("utf-8"), "text/html; charset=utf-8"
        )

    def _attachments(
        self, email_id: str, inputs: Sequence[AttachmentInput], org: OrganizationSettings
    ) -> list[AttachmentMeta]:
        blocked = {e.strip().lower() for e in org.blocked_attachments.split(";") if e.strip()}
        metas: list[AttachmentMeta] = []
        for n, item in enumerate(inputs):
            where = f"attachments.{n}"
            try:
                data = base64.b64decode(item.content_base64, validate=True)
            except (binascii.Error, ValueError):
                raise ValidationFailed("content_base64 is not valid base64", field=where) from None
            extension = item.file_name.rsplit(".", 1)[-1].lower() if "." in item.file_name else ""
            if extension in blocked:
                raise ValidationFailed(f"attachments of type .{extension} are blocked", field=where)
            if len(data) > org.max_upload_file_size_bytes:
                raise ValidationFailed(
                    f"{len(data)} bytes is over the {org.max_upload_file_size_bytes}-byte attachment limit", field=where
                )
            name = f"{email_id}/{n + 1}-{_SAFE_NAME.sub('_', item.file_name)[:100]}"
            blob = self.store.blobs.put(Container.ATTACHMENTS, name, data, item.content_type)
            metas.append(
                AttachmentMeta(
                    file_name=item.file_name[:256],
                    mime_type=item.content_type,
                    size=len(data),
                    content_id=item.content_id,
                    is_inline=item.inline,
                    blob=blob,
                )
            )
        return metas

    def _new_token(self, user: SystemUser | None) -> str:
        """The next counter (from this process's block, if it has one) and the user's number (taken once)."""
        needs_number = user is not None and user.tracking_token_user_number is None
        if self.counters is not None and not needs_number:
            org, counter = self.counters.next(lambda size: self._take_from_organization(size, False)[:2])
            taken_user = None
        else:
            org, counters, taken_user = self._take_from_organization(1, needs_number)
            counter = counters[0]
        sequence = 0
        if user is not None:
            sequence = user.tracking_token_user_number or 0
            if taken_user is not None:
                sequence = self._assign_user_number(user.id, taken_user)
        return tokens.format_token(org, sequence, counter)

    def _take_from_organization(
        self, count: int, user_number: bool
    ) -> tuple[OrganizationSettings, list[int], int | None]:
        """``count`` counter values (and a user's number) in one ETag-checked write of the organization row."""
        taken: dict[str, list[int]] = {}

        def take(org: OrganizationSettings) -> None:
            taken["counters"] = [tokens.take_counter(org) for _ in range(count)]
            taken["user"] = [tokens.take_user_sequence(org)] if user_number else []

        try:
            org = self.store.organization.modify("organization", "settings", take, attempts=50)
        except NotFound:  # never saved: the defaults become the stored row, then the counter moves
            with contextlib.suppress(AlreadyExists):
                self.store.organization.insert(OrganizationSettings())
            org = self.store.organization.modify("organization", "settings", take, attempts=50)
        return org, taken["counters"], next(iter(taken["user"]), None)

    def _assign_user_number(self, user_id: str, number: int) -> int:
        def assign(user: SystemUser) -> None:
            if user.tracking_token_user_number is None:  # a concurrent first send may have set it: keep theirs
                user.tracking_token_user_number = number

        stored = self.store.users.modify(user_id, "record", assign)
        if self.cache is not None:  # the next token of this process must not take a second number
            self.cache.put_record(stored)
        return stored.tracking_token_user_number or number

    def _organization(self) -> OrganizationSettings:
        return self.cache.organization() if self.cache is not None else self.store.get_organization()

    def _mailbox(self, mailbox_id: str) -> Mailbox | None:
        return self.cache.mailbox(mailbox_id) if self.cache is not None else self.store.find_mailbox(mailbox_id)

    def _index(
        self, email: Email, org: OrganizationSettings, mailbox_id: str, also: Callable[[], object] | None = None
    ) -> None:
        """Token (and a Message-ID that does not name the email) -> this email, before the email can go out
        (R-COR-2/3); with smart matching on, its subject and addresses too, so a reply that lost every header
        still finds it (R-COR-15, R-OUT-6); ``also`` alongside. A Message-ID SendEmail made names the email: it
        needs no row."""
        summary = EmailSummary(
            email_id=email.id,
            regarding=email.regarding,
            owner=email.owner,
            subject_key=subject_key(email.subject, org),
            direction=EmailDirection.OUTGOING,
        )
        writes: list[Callable[[], object]] = [also] if also is not None else []
        if email.message_id and email_id_named_by(email.message_id) != email.id:
            message = message_key(email.message_id, b"")
            writes.append(lambda: self.store.message_index.claim(message, summary, mailbox_id))
        if email.tracking_token:
            token = email.tracking_token
            writes.append(lambda: self.store.token_index.add(token, summary))
        signature = subject_signature(email.subject, org) if org.enable_smart_matching else None
        if signature:
            hashes = address_hashes(
                [p.address_used or "" for p in email.parties if p.participation in SMART_PARTIES], org
            )
            created = email.created_on or utcnow()
            writes.append(lambda: self.store.smart_index.add(signature, summary, hashes, created))
        overlap(writes)

    def _save(self, email: Email) -> Email:
        try:
            return self.store.emails.update(email)
        except ConcurrencyConflict:
            raise EmailStateConflict(f"email {email.id} changed while it was being sent; try again") from None
        except NotFound:
            raise NotFound(f"email {email.id} not found") from None

    @staticmethod
    def _sender_ref(email: Email) -> EntityRef:
        senders = email.parties_of(ParticipationType.SENDER)
        if not senders or senders[0].party is None:
            raise ValidationFailed("the email has no From user or queue", field="from")
        return senders[0].party


def _party(participation: ParticipationType, record: EmailEnabled, address: str) -> ActivityParty:
    column = next((n for n, a in enumerate(record.email_columns().values(), 1) if a == address), None)
    return ActivityParty(
        participation=participation,
        party=EntityRef(type=record.entity_type, id=record.id),
        address_used=address,
        address_used_column_number=column,
        display_name=record.display_name[:200] or None,
    )


def _addresses(parties: Sequence[ActivityParty], participation: ParticipationType) -> list[str]:
    return [p.address_used for p in parties if p.participation is participation and p.address_used]


def _checked_address(address: str | None, where: str) -> str:
    try:
        return mail_address(address)
    except ComposeError:  # the message quotes the address: not echoed back to the caller
        raise ValidationFailed("not a usable email address", field=where) from None


def _owner_of(record: SystemUser | Queue) -> EntityRef | None:
    if isinstance(record, SystemUser):
        return EntityRef(type=EntityType.SYSTEM_USER, id=record.id)
    return EntityRef(type=EntityType.SYSTEM_USER, id=record.owner_user_id) if record.owner_user_id else None


def _owner_party_id(email: Email) -> str | None:
    owner = next(iter(email.parties_of(ParticipationType.OWNER)), None)
    return owner.party.id if owner is not None and owner.party is not None else None


def _token_user(email: Email, sender: SystemUser | Queue, acting: SystemUser | None) -> SystemUser | None:
    """Whose number the token carries: the acting user, else the From user (a queue's email: its acting user)."""
    return acting or (sender if isinstance(sender, SystemUser) else None)


def _type_name(entity_type: EntityType) -> str:
    return entity_type.name.lower().replace("_", "")
