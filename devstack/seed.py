"""A demo organization on the local stack: one profile, users, a queue and CRM records.

Used by ``make demo`` and by end-to-end tests, so both exercise the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sync.auth.secrets import SecretBox, seal_field
from sync.crm.records import RecordService
from sync.mailboxes.provisioning import Provisioning
from sync.model import Account, Contact, EmailServerProfile, Lead, Mailbox, Queue, SystemUser
from sync.model.options import EmailAddressApproval, FilteringMethod, IncomingDeliveryMethod, ServerType
from sync.model.profile import TlsMode
from sync.scheduling.scheduler import schedule_now
from sync.store import Store

DEMO_PASSWORD = "secret"
DEMO_USERS = {"alice@example.test": "Alice Adams", "bob@example.test": "Bob Brown"}
DEMO_QUEUE = ("support@example.test", "Support")
DEMO_FORWARD = "collector@example.test"
DEMO_INCOMING = {"bob@example.test": IncomingDeliveryMethod.FORWARD_MAILBOX}  # Bob's mail arrives forwarded
DEMO_FILTERS = {  # users pick how much of their mail the CRM tracks (R-ACC-2..6)
    "alice@example.test": FilteringMethod.RESPONSES_TO_CRM_EMAIL,
    "bob@example.test": FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS,
}


@dataclass
class DemoOrganization:
    profile: EmailServerProfile
    users: list[SystemUser] = field(default_factory=list)
    queues: list[Queue] = field(default_factory=list)
    mailboxes: list[Mailbox] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    leads: list[Lead] = field(default_factory=list)
    forward_mailbox: Mailbox | None = None


def mail_accounts() -> dict[str, str]:
    """The Dovecot/SMTP logins the demo needs: every user and the queue."""
    return {address: DEMO_PASSWORD for address in [*DEMO_USERS, DEMO_QUEUE[0], DEMO_FORWARD]}


def seed_demo_organization(
    store: Store, box: SecretBox, *, mail_host: str, imap_port: int, smtp_port: int
) -> DemoOrganization:
    """Create the demo organization; mailboxes are approved and carry their (sealed) passwords."""
    profile = EmailServerProfile(
        name="Local Dovecot (IMAP/SMTP)",
        server_type=ServerType.IMAP_SMTP,
        incoming_server_location=mail_host,
        incoming_port=imap_port,
        incoming_tls=TlsMode.IMPLICIT,
        outgoing_server_location=mail_host,
        outgoing_port=smtp_port,
        outgoing_tls=TlsMode.STARTTLS,
        timeout_mailbox_connection_after_ms=10_000,
    )
    store.profiles.insert(profile)
    org = store.get_organization()
    org.default_email_server_profile_id = profile.id
    store.organization.upsert(org)
    demo = DemoOrganization(profile=profile)

    provisioning = Provisioning(store)
    for address, name in DEMO_USERS.items():
        user, mailbox = provisioning.create_user(
            SystemUser(full_name=name, internal_email_address=address, incoming_filtering_method=DEMO_FILTERS[address]),
            incoming=DEMO_INCOMING.get(address),
        )
        demo.users.append(user)
        demo.mailboxes.append(_ready(store, box, mailbox.id, address))
    queue, mailbox = provisioning.create_queue(Queue(name=DEMO_QUEUE[1], email_address=DEMO_QUEUE[0]))
    demo.queues.append(queue)
    demo.mailboxes.append(_ready(store, box, mailbox.id, DEMO_QUEUE[0]))

    records = RecordService(store)
    fabrikam = records.create(Account(name="Fabrikam", email_address1="info@fabrikam.test"))
    contoso = records.create(Account(name="Contoso", email_address1="hello@contoso.test"))
    demo.accounts += [fabrikam, contoso]
    demo.contacts += [
        records.create(
            Contact(
                first_name="Carol",
                last_name="Clark",
                email_address1="carol@fabrikam.test",
                parent_account_id=fabrikam.id,
            )
        ),
        records.create(
            Contact(first_name="Dan", last_name="Diaz", email_address1="dan@contoso.test", parent_account_id=contoso.id)
        ),
    ]
    forward = provisioning.create_forward_mailbox("Forwarded mail collector", DEMO_FORWARD, profile.id)
    demo.forward_mailbox = _ready(store, box, forward.id, DEMO_FORWARD)
    demo.mailboxes.append(demo.forward_mailbox)
    demo.leads.append(records.create(Lead(first_name="Erin", last_name="Evans", company_name="Northwind",
                                          email_address1="erin@northwind.test")))  # fmt: skip
    return demo


def _ready(store: Store, box: SecretBox, mailbox_id: str, address: str) -> Mailbox:
    """Approve the address and give the mailbox its credentials, as an administrator would."""
    mailbox = store.get_mailbox(mailbox_id)
    mailbox.approval = EmailAddressApproval.APPROVED
    mailbox.allow_credentials_for_email_processing = True
    mailbox.username = address
    seal_field(box, mailbox, "password", DEMO_PASSWORD)
    store.mailboxes.update(mailbox)
    return schedule_now(store, mailbox_id)
