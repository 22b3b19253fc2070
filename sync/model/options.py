"""Option sets with the numeric values Dynamics 365 uses (spec §1), so exported data and alerts match.

Values are the Dataverse option values; the names are ours. Note that ACT delivery methods number
differently from the email ones (``actdeliverymethod``: 0 Outlook, 1 server-side sync, 2 None).
"""

from __future__ import annotations

from enum import IntEnum


class StateCode(IntEnum):
    """``statecode`` of mailboxes, profiles, users, queues and records."""

    ACTIVE = 0
    INACTIVE = 1


class EmailConnectionChannel(IntEnum):
    """``emailconnectionchannel``: how the organization processes email ("Process Email Using")."""

    SERVER_SIDE_SYNC = 0
    EMAIL_ROUTER = 1  # the retired Email Router: no mailbox is processed here (R-ELIG-3)


class IncomingDeliveryMethod(IntEnum):
    """``incomingemaildeliverymethod``."""

    NONE = 0
    OUTLOOK = 1  # deprecated online; never processed here
    SERVER_SIDE_SYNC = 2
    FORWARD_MAILBOX = 3


class OutgoingDeliveryMethod(IntEnum):
    """``outgoingemaildeliverymethod``."""

    NONE = 0
    OUTLOOK = 1
    SERVER_SIDE_SYNC = 2


class ActDeliveryMethod(IntEnum):
    """``actdeliverymethod`` (appointments, contacts, tasks)."""

    OUTLOOK = 0
    SERVER_SIDE_SYNC = 1
    NONE = 2


class EmailAddressApproval(IntEnum):
    """``emailrouteraccessapproval`` on mailbox, user and queue."""

    EMPTY = 0
    APPROVED = 1
    PENDING_APPROVAL = 2
    REJECTED = 3


class TestStatus(IntEnum):
    """``incomingemailstatus`` / ``outgoingemailstatus`` / ``actstatus`` / ``mailboxstatus``."""

    __test__ = False  # not a pytest class
    NOT_RUN = 0
    SUCCESS = 1
    FAILURE = 2


class ServerType(IntEnum):
    """``servertype`` of an email server profile."""

    EXCHANGE_SERVER = 0
    POP3_SMTP = 1
    EXCHANGE_SERVER_HYBRID = 2
    EXCHANGE_ONLINE = 3  # Dynamics labels it "Exchange Online (Hybrid)"
    IMAP_SMTP = 4

    @property
    def is_exchange(self) -> bool:
        return self in (
            ServerType.EXCHANGE_SERVER,
            ServerType.EXCHANGE_SERVER_HYBRID,
            ServerType.EXCHANGE_ONLINE,
        )


class ExchangeApi(IntEnum):
    """How an Exchange profile is reached. Not a Dynamics column: ours, for the EWS retirement in Exchange Online."""

    EWS = 0  # Exchange Web Services: Exchange Server; Exchange Online tenants that allow-list the app until 2027-04-01
    GRAPH = 1  # Microsoft Graph: Exchange Online only


class AuthenticationProtocol(IntEnum):
    """``incomingauthenticationprotocol`` / ``outgoingauthenticationprotocol``."""

    AUTO_DETECT = 0
    NEGOTIATE = 1
    NTLM = 2
    BASIC = 3
    OAUTH = 4


class CredentialRetrieval(IntEnum):
    """``incomingcredentialretrieval`` / ``outgoingcredentialretrieval`` (R-PROV-8)."""

    USER_OR_QUEUE = 0
    EMAIL_SERVER_PROFILE = 1
    SERVER_TO_SERVER = 2
    WINDOWS_INTEGRATED = 3
    ANONYMOUS = 4
    GMAIL_OAUTH = 5
    EXCHANGE_HYBRID_MODERN_AUTH = 6
    AZURE_AD_OAUTH = 7


class ExchangeVersion(IntEnum):
    """``exchangeversion``."""

    EXCHANGE_2007 = 0
    EXCHANGE_2007_SP1 = 1
    EXCHANGE_2010 = 2
    EXCHANGE_2010_SP1 = 3
    EXCHANGE_2010_SP2 = 4
    EXCHANGE_2013 = 5


class FilteringMethod(IntEnum):
    """``incomingemailfilteringmethod`` of users (usersettings) and queues (R-ACC-*)."""

    ALL_EMAIL = 0
    RESPONSES_TO_CRM_EMAIL = 1
    FROM_LEADS_CONTACTS_ACCOUNTS = 2
    FROM_EMAIL_ENABLED_RECORDS = 3
    NO_EMAIL = 4


class AccessMode(IntEnum):
    """``systemuser.accessmode``; Test & Enable needs READ_WRITE (R-ELIG-10)."""

    READ_WRITE = 0
    ADMINISTRATIVE = 1
    READ = 2
    SUPPORT_USER = 3
    NON_INTERACTIVE = 4
    DELEGATED_ADMIN = 5


class EmailDirection(IntEnum):
    """``directioncode`` (a Boolean in Dataverse: True = outgoing)."""

    INCOMING = 0
    OUTGOING = 1


class ActivityState(IntEnum):
    """``statecode`` of activities."""

    OPEN = 0
    COMPLETED = 1
    CANCELED = 2


class EmailStatus(IntEnum):
    """``statuscode`` of an email; each belongs to one state (see :data:`EMAIL_STATUS_STATE`)."""

    DRAFT = 1
    COMPLETED = 2
    SENT = 3
    RECEIVED = 4
    CANCELED = 5
    PENDING_SEND = 6
    SENDING = 7
    FAILED = 8


EMAIL_STATUS_STATE: dict[EmailStatus, ActivityState] = {
    EmailStatus.DRAFT: ActivityState.OPEN,
    EmailStatus.FAILED: ActivityState.OPEN,  # Failed stays Open so it can be fixed and resent
    EmailStatus.COMPLETED: ActivityState.COMPLETED,
    EmailStatus.SENT: ActivityState.COMPLETED,
    EmailStatus.RECEIVED: ActivityState.COMPLETED,
    EmailStatus.PENDING_SEND: ActivityState.COMPLETED,
    EmailStatus.SENDING: ActivityState.COMPLETED,
    EmailStatus.CANCELED: ActivityState.CANCELED,
}


class CorrelationMethod(IntEnum):
    """``correlationmethod`` of an email (R-COR-*)."""

    NONE = 0
    SKIPPED = 1
    XHEADER = 2
    IN_REPLY_TO = 3
    TRACKING_TOKEN = 4
    CONVERSATION_INDEX = 5
    SMART_MATCHING = 6
    CUSTOM_CORRELATION = 7


class ParticipationType(IntEnum):
    """``participationtypemask`` of an activity party."""

    SENDER = 1
    TO_RECIPIENT = 2
    CC_RECIPIENT = 3
    BCC_RECIPIENT = 4
    REQUIRED_ATTENDEE = 5
    OPTIONAL_ATTENDEE = 6
    ORGANIZER = 7
    REGARDING = 8
    OWNER = 9
    RESOURCE = 10
    CUSTOMER = 11
    CHAT_PARTICIPANT = 12


class Priority(IntEnum):
    """``prioritycode`` / ``deliveryprioritycode``."""

    LOW = 0
    NORMAL = 1
    HIGH = 2


class EmailNotification(IntEnum):
    """``notifications`` on an email."""

    NONE = 0
    ATTACHMENTS_NOT_SAVED = 1
    TRUNCATED_BODY = 2


class FolderOnboardingStatus(IntEnum):
    """``folderonboardingstatus`` of a tracking folder; Dynamics leaves its values undocumented, these are ours."""

    NOT_CHECKED = 0  # the next Exchange cycle looks for the folder
    ONBOARDED = 1  # found under the Inbox: its email is tracked
    NOT_UNDER_INBOX = 2  # not (or no longer) under the Inbox: the rule is stopped (R-FLT-9, R-FLT-12)


class AlertLevel(IntEnum):
    """``tracelog.level``."""

    INFORMATION = 1
    WARNING = 2
    ERROR = 3


class ProcessingState(IntEnum):
    """``processingstatecode``: whether a worker currently holds the mailbox (R-SCH-9)."""

    IDLE = 0
    PROCESSING = 1


class EntityType(IntEnum):
    """Dataverse object type codes of the tables this service reads and writes."""

    ACCOUNT = 1
    CONTACT = 2
    LEAD = 4
    SYSTEM_USER = 8
    QUEUE = 2020
    QUEUE_ITEM = 2029
    APPOINTMENT = 4201
    EMAIL = 4202
    TASK = 4212
    EMAIL_SERVER_PROFILE = 9605
    MAILBOX = 9606


EMAIL_ENABLED_TYPES: tuple[EntityType, ...] = (
    EntityType.SYSTEM_USER,
    EntityType.CONTACT,
    EntityType.ACCOUNT,
    EntityType.LEAD,
    EntityType.QUEUE,
)
"""Record types whose email columns resolve addresses, in sender-resolution order (R-RES-2)."""
