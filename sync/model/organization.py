"""Organization settings: the email subset of ``organization`` and ``OrgDbOrgSettings`` (spec §1.9, §1.11).

Defaults follow the spec's decisions where sources conflict (§5: C-1..C-9).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from sync.model.base import Entity
from sync.model.fields import Str20, Str36, Str256
from sync.model.options import (
    ActDeliveryMethod,
    EmailConnectionChannel,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
)

ORGANIZATION_ID = "organization"
"""A deployment serves one organization; its settings live in one row with this id."""

TokenPrefix = Annotated[str, Field(min_length=1, max_length=20)]  # N-18


class OrganizationSettings(Entity):
    """How the organization processes email. One row per deployment."""

    id: Str36 = ORGANIZATION_ID
    """Always 'organization': a deployment serves one organization."""
    name: Str256 = "Organization"
    """The organization's name."""
    email_connection_channel: EmailConnectionChannel = EmailConnectionChannel.SERVER_SIDE_SYNC
    """How email is processed: server_side_sync, the only one this service offers; email_router stops processing
    (Dynamics: emailconnectionchannel). Default: server_side_sync."""

    # defaults applied to new mailboxes (defaultemailsettings, R-PROV-2)
    default_email_server_profile_id: Str36 | None = None
    """The profile new mailboxes get (Dynamics: defaultemailserverprofileid)."""
    default_incoming_method: IncomingDeliveryMethod = IncomingDeliveryMethod.SERVER_SIDE_SYNC
    """The incoming method new mailboxes get. Default: server_side_sync."""
    default_outgoing_method: OutgoingDeliveryMethod = OutgoingDeliveryMethod.SERVER_SIDE_SYNC
    """The outgoing method new mailboxes get. Default: server_side_sync."""
    default_act_method: ActDeliveryMethod = ActDeliveryMethod.NONE
    """The appointments, contacts and tasks method new user mailboxes get. Default: none."""

    # approval (R-ELIG-7, C-2)
    require_approval_for_user_email: bool = True
    """Process email only for users whose address is approved. Default: yes (the admin center's default; Dynamics
    metadata says no)."""
    require_approval_for_queue_email: bool = True
    """Process email only for queues whose address is approved. Default: yes (the admin center's default)."""

    # tracking tokens (R-COR-*, N-18..N-22, C-5, C-9)
    tracking_prefix: TokenPrefix = "CRM"
    """The prefix of tracking tokens in subjects. Dynamics default: CRM."""
    tracking_prefix_history: list[Str20] = Field(default_factory=list)
    """Earlier prefixes: tokens with them still correlate."""
    tracking_token_id_base: int = Field(default=0, ge=0, le=2_147_483_647)
    """The base number of tracking tokens, 0 to 2147483647. Dynamics default: 0."""
    tracking_token_id_digits: int = Field(default=3, ge=1, le=10)
    """Digits for the user number in a token, 1 to 10. Dynamics default: 3."""
    tracking_counter_digits: int = Field(default=3, ge=1, le=9)
    """Digits for the token counter, 1 to 9 (3 recycles after 999). Dynamics default: 3."""
    next_tracking_number: int = Field(default=1, ge=0)
    """The counter the next token uses."""
    next_tracking_user_number: int = Field(default=1, ge=1, le=9_999_999_999)  # the next user's sequence (R-COR-11)
    """The number the next new user gets in tokens, at most 10 digits (the most tracking_token_id_digits allows)."""

    # correlation
    email_correlation_enabled: bool = True
    """Correlate replies by their headers (In-Reply-To, conversation index). Dynamics default: yes."""
    enable_smart_matching: bool = False
    """Correlate by subject and recipients when nothing else matches. Dynamics default: no."""
    hash_filter_keywords: Str256 = r"^[\s]*([\w]+\s?:[\s]*)+"
    """Smart matching: the regular expression removed from subjects (RE:, FW:...). Dynamics default:
    ^[\\s]*([\\w]+\\s?:[\\s]*)+."""
    hash_max_count: int = Field(default=20, ge=0)
    """Smart matching: at most this many recipients are compared. Dynamics default: 20."""
    hash_delta_subject_count: int = Field(default=0, ge=0)
    """Smart matching: subjects may differ by this many words. Dynamics default: 0."""
    hash_min_address_count: int = Field(default=2, ge=0)
    """Smart matching: at least this many addresses must match. Dynamics default: 2."""
    ignore_conversation_index_and_in_reply_to: bool = False
    """Do not correlate by In-Reply-To or conversation index. Dynamics default: no."""
    do_not_correlate_forwarded_emails_as_replies: bool = False
    """A forwarded email is not correlated as a reply to the original. Dynamics default: no."""

    # folder-level tracking (C-4, N-17)
    is_folder_based_tracking_enabled: bool = True
    """Users may track Exchange folders (every email in them is tracked). Default: yes (the admin center's default)."""
    max_folder_based_tracking_mappings: int = Field(default=25, ge=1, le=25)
    """Tracked folders a user may have, 1 to 25. Dynamics default: 25."""

    # records and parties
    auto_create_contact_on_promote: bool = True
    """Users may have contacts or leads created for unknown senders. Dynamics default: yes."""
    track_internal_email_as_two_activities: bool = True  # inverse of ignoreinternalemail
    """Email between two users is tracked once for each (the inverse of Dynamics' ignoreinternalemail). Default: yes."""
    do_not_ignore_internal_email_to_queues: bool = True
    """Email from a user to a queue is tracked even when internal email is tracked once. Dynamics default: yes."""
    ignore_internal_email_from_queues: bool = False
    """Email from a queue to a user is not tracked again. Dynamics default: no."""
    allow_unresolved_parties_on_email_send: bool = False
    """Email may be sent to addresses that match no record. Dynamics default: no."""
    unresolve_email_address_if_multiple_match: bool = False
    """A recipient address that matches several records is left unresolved. Dynamics default: no."""
    unresolve_sender_in_case_of_multiple_match: bool = False
    """A sender address that matches several records is left unresolved. Dynamics default: no."""
    resolve_similar_unresolved_email_address: bool = True  # C-6
    """When an unresolved address gets a record, other emails with it get it too. Default: yes (the UI's default)."""
    resolve_for_inactive_entities: bool = False
    """Addresses of inactive records are ignored when resolving parties. Dynamics default: no."""
    use_filtering_method_of_syncing_mailbox_only: bool = False
    """Only the processing mailbox's owner's filtering method decides whether email is tracked. Dynamics default: no."""
    force_filtering_method_for_user_mailboxes: bool = False
    """A user's mailbox tracks email only for its own user, not for other recipients. Dynamics default: no."""

    # queue items (C-3)
    create_queue_item_for_synchronizing_mailbox: bool = True
    """A queue mailbox gets a queue item even when the queue is not in To or Cc. Default: yes."""
    create_queue_items_for_accepting_queue_recipients: bool = True
    """Every resolved queue recipient gets a queue item. Dynamics default: yes."""
    create_additional_queue_items_for_already_tracked_email: bool = False
    """An email already tracked elsewhere still gets a queue item in another queue mailbox. Dynamics default: no."""

    # Exchange behaviour
    auto_track_sent_folder_items: bool = False
    """Exchange: also track Sent Items with the filtering method. Dynamics default: no."""
    track_categorized_items: bool = True
    """Exchange: track items a user gives the 'Tracked to Dynamics 365' category. Dynamics default: yes."""
    save_outgoing_email_to_sent_folder: bool = True
    """Exchange: keep sent email in the sender's Sent Items. Dynamics default: yes."""
    maximum_subject_length_on_mail_server: int = Field(default=255, ge=50, le=800)  # N-23
    """The longest subject sent, tracking token included, 50 to 800. Dynamics default: 255."""

    # attachments (N-15)
    max_upload_file_size_bytes: int = Field(default=5 * 1024 * 1024, ge=0, le=128 * 1024 * 1024)
    """Larger attachments are not saved, up to 128 MiB. Dynamics default: 5 MiB."""
    blocked_attachments: Str256 = (
        "ade;adp;app;bat;chm;cmd;com;cpl;exe;hta;inf;ins;isp;js;jse;lnk;msc;msi;msp;mst;pif;reg;scr;sct;shs;vb;vbe;"
        "vbs;wsc;wsf;wsh"
    )
    """File extensions never saved, separated by semicolons. Dynamics default: the list of executable types."""

    # alerts (C-7, C-8)
    generate_alerts_for_errors: bool = True
    """Record error alerts. Dynamics default: yes."""
    generate_alerts_for_warnings: bool = True
    """Record warning alerts. Dynamics default: yes."""
    generate_alerts_for_information: bool = True
    """Record information alerts. Dynamics default: yes."""
    notify_mailbox_owner_of_server_level_alerts: bool = False
    """Email mailbox owners about server-level alerts. Default: no (the admin center's default)."""

    # stale locks (R-SCH-9): expired leases are always broken; this only controls counting them
    is_mailbox_forced_unlocking_enabled: bool = True
    """Count broken stale claims on mailboxes (expired claims are always broken). Default: yes."""

    # appointments, contacts and tasks (R-TE-7)
    organization_id: Str36 | None = None
    """This organization's stable id, written in every Exchange mailbox it synchronizes appointments, contacts and
    tasks with, so another organization (a test deployment, say) does not sync the same mailbox. Generated once
    when first needed; read-only."""
    act_sync_this_org_only_override: bool = False
    """Sync items with Exchange from this org only, even if Exchange was set to sync with a different org: Test &
    Enable takes over a mailbox another organization synchronizes instead of refusing it. Default: no."""
    propagate_appointment_cancellations_to_exchange: bool = False  # R-ACT-9
    """An appointment canceled in the CRM is deleted from its organizer's Exchange calendar, which sends the
    attendees a cancellation, when it is still to come (Dynamics: SSSPropagateAppointmentCancellationsToExchange).
    Otherwise it stays in Exchange, shown as Free, and nobody is told. Default: no."""
    update_past_meetings_in_exchange: bool = False  # R-ACT-9
    """Changes to the subject, body, location, times, attendees or series of a meeting that has already started are
    written to Exchange, still without sending updates (Dynamics: SSSUpdatePastMeetingsInNonDraftMode). Otherwise
    Exchange keeps them as they were. Default: no."""

    @field_validator("tracking_prefix")
    @classmethod
    def _prefix_is_printable(cls, value: str) -> str:
        if any(ch.isspace() or not ch.isprintable() for ch in value):
            raise ValueError("the tracking token prefix may not contain spaces or control characters")
        return value

    def all_tracking_prefixes(self) -> list[str]:
        """Current prefix first, then every earlier one: tokens with any of them still correlate."""
        seen = [self.tracking_prefix]
        seen.extend(p for p in self.tracking_prefix_history if p not in seen)
        return seen

    def change_tracking_prefix(self, prefix: str) -> None:
        """Adopt a new prefix and keep the old one in the history (``trackingprefix`` keeps a list)."""
        if prefix == self.tracking_prefix:
            return
        history = [self.tracking_prefix, *[p for p in self.tracking_prefix_history if p != prefix]]
        self.tracking_prefix = prefix
        self.tracking_prefix_history = history
