"""Organization settings: the email subset of ``organization`` and ``OrgDbOrgSettings`` (spec §1.9, §1.11).

Defaults follow the spec's decisions where sources conflict (§5: C-1..C-9).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from sync.model.base import Entity
from sync.model.fields import Str20, Str36, Str256
from sync.model.options import ActDeliveryMethod, IncomingDeliveryMethod, OutgoingDeliveryMethod

ORGANIZATION_ID = "organization"
"""A deployment serves one organization; its settings live in one row with this id."""

TokenPrefix = Annotated[str, Field(min_length=1, max_length=20)]  # N-18


class OrganizationSettings(Entity):
    """How the organization processes email. One row per deployment."""

    id: Str36 = ORGANIZATION_ID
    name: Str256 = "Organization"
    email_connection_channel: int = 0  # 0 server-side synchronization (R-ELIG-3)

    # defaults applied to new mailboxes (defaultemailsettings, R-PROV-2)
    default_email_server_profile_id: Str36 | None = None
    default_incoming_method: IncomingDeliveryMethod = IncomingDeliveryMethod.SERVER_SIDE_SYNC
    default_outgoing_method: OutgoingDeliveryMethod = OutgoingDeliveryMethod.SERVER_SIDE_SYNC
    default_act_method: ActDeliveryMethod = ActDeliveryMethod.NONE

    # approval (R-ELIG-7, C-2)
    require_approval_for_user_email: bool = True
    require_approval_for_queue_email: bool = True

    # tracking tokens (R-COR-*, N-18..N-22, C-5, C-9)
    tracking_prefix: TokenPrefix = "CRM"
    tracking_prefix_history: list[Str20] = Field(default_factory=list)
    tracking_token_id_base: int = Field(default=0, ge=0, le=2_147_483_647)
    tracking_token_id_digits: int = Field(default=3, ge=1, le=10)
    tracking_counter_digits: int = Field(default=3, ge=1, le=9)
    next_tracking_number: int = Field(default=1, ge=0)
    next_tracking_user_number: int = Field(default=1, ge=1)  # the next user's sequence in tokens (R-COR-11)

    # correlation
    email_correlation_enabled: bool = True
    enable_smart_matching: bool = False
    hash_filter_keywords: Str256 = r"^[\s]*([\w]+\s?:[\s]*)+"
    hash_max_count: int = Field(default=20, ge=0)
    hash_delta_subject_count: int = Field(default=0, ge=0)
    hash_min_address_count: int = Field(default=2, ge=0)
    ignore_conversation_index_and_in_reply_to: bool = False
    do_not_correlate_forwarded_emails_as_replies: bool = False

    # folder-level tracking (C-4, N-17)
    is_folder_based_tracking_enabled: bool = True
    max_folder_based_tracking_mappings: int = Field(default=25, ge=1, le=25)

    # records and parties
    auto_create_contact_on_promote: bool = True
    track_internal_email_as_two_activities: bool = True  # inverse of ignoreinternalemail
    do_not_ignore_internal_email_to_queues: bool = True
    ignore_internal_email_from_queues: bool = False
    allow_unresolved_parties_on_email_send: bool = False
    unresolve_email_address_if_multiple_match: bool = False
    unresolve_sender_in_case_of_multiple_match: bool = False
    resolve_similar_unresolved_email_address: bool = True  # C-6
    resolve_for_inactive_entities: bool = False
    use_filtering_method_of_syncing_mailbox_only: bool = False
    force_filtering_method_for_user_mailboxes: bool = False

    # queue items (C-3)
    create_queue_item_for_synchronizing_mailbox: bool = True
    create_queue_items_for_accepting_queue_recipients: bool = True
    create_additional_queue_items_for_already_tracked_email: bool = False

    # Exchange behaviour
    auto_track_sent_folder_items: bool = False
    track_categorized_items: bool = True
    save_outgoing_email_to_sent_folder: bool = True
    maximum_subject_length_on_mail_server: int = Field(default=255, ge=50, le=800)  # N-23

    # attachments (N-15)
    max_upload_file_size_bytes: int = Field(default=5 * 1024 * 1024, ge=0, le=128 * 1024 * 1024)
    blocked_attachments: Str256 = (
        "ade;adp;app;bat;chm;cmd;com;cpl;exe;hta;inf;ins;isp;js;jse;lnk;msc;msi;msp;mst;pif;reg;scr;sct;shs;vb;vbe;"
        "vbs;wsc;wsf;wsh"
    )

    # alerts (C-7, C-8)
    generate_alerts_for_errors: bool = True
    generate_alerts_for_warnings: bool = True
    generate_alerts_for_information: bool = True
    notify_mailbox_owner_of_server_level_alerts: bool = False

    # stale locks (R-SCH-9): expired leases are always broken; this only controls counting them
    is_mailbox_forced_unlocking_enabled: bool = True

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
