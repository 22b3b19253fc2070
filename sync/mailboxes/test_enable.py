"""Test & Enable (spec §2.5, R-TE-1..12): prove a mailbox can connect, then enable what works.

Order of a run:
1. Preconditions (R-TE-12): the mailbox is active, has an active profile and an address, the address is
   approved where the organization requires it, and a user owner is in Read-Write access mode. Any failure
   fails every configured workload with its code (``MailboxDisabled``, ``InvalidIncomingEmailServerProfile``...).
2. Incoming: connect, log in and list the Inbox through the profile's connector.
3. Outgoing: send "Your mailbox is now connected to Dynamics 365" to the mailbox itself (R-TE-5). The message
   carries ``X-Sync-Generated: test-email`` so the incoming pipeline never tracks it (a loop).
4. ACT (only when configured): the calendar, contacts and tasks answer (through Graph for Exchange Online, EWS
   for Exchange Server) and the mailbox is claimed for this organization (R-TE-7).
Then one write records the statuses, the completion time, who ran it, sets each tested workload's
``enabled_for_*`` flag to its result (R-TE-3), resets the incoming watermark (R-TE-9) and takes the optional
start date (R-TE-8). Alerts: success for the owner, failures on the mailbox and its profile (R-TE-4). A failed
run schedules an automatic re-test (``retest.py``, R-TE-11); the scheduled runs come from
``sync/scheduling/test_enable_queue.py``.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sync.act.org_stamp import OTHER_ORGANIZATION_CODE, ActClaimedByAnotherOrganization, check_claim
from sync.act.organization_id import organization_id
from sync.act.port import ActConnector
from sync.auth.mail_tokens import NO_SOURCE_CODE, outgoing_uses_oauth, sasl_user, token_fetch
from sync.auth.secrets import SecretBox, open_field
from sync.errors import SecretError, ValidationFailed
from sync.health.alerts import Alerts, AlertText, act_other_organization_text
from sync.health.enable_alerts import FAILURE_CODES, failure_text, success_text
from sync.health.profile_alerts import ProfileAlerts
from sync.health.server_text import one_server_line, safe_code
from sync.incoming.classify import GENERATED_HEADER
from sync.mail import egress
from sync.mail.errors import MailAuthenticationError, MailServerError, PermanentMailError, TransientMailError
from sync.mail.port import ConnectionSettings, ExchangeConnector, IncomingConnector
from sync.mail.sasl import check_encrypted
from sync.mail.transport import client_tls_context, map_network_error, redact
from sync.mailboxes.credentials import incoming_connection, mailbox_password
from sync.mailboxes.eligibility import approval_required
from sync.mailboxes.retest import record_outcome
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings, SystemUser
from sync.model.fields import EntityRef, utcnow
from sync.model.mailbox import FolderWatermark
from sync.model.options import (
    AccessMode,
    ActDeliveryMethod,
    CredentialRetrieval,
    EmailAddressApproval,
    EntityType,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    ServerType,
    TestStatus,
)
from sync.model.profile import TlsMode
from sync.outgoing.port import AccessTokenSource, ExchangeSender
from sync.outgoing.smtp import BearerLogin
from sync.scheduling.act_scheduler import schedule_act_now
from sync.scheduling.scheduler import schedule_now
from sync.store.store import Store

TEST_SUBJECT = "Your mailbox is now connected to Dynamics 365"  # R-TE-5: the subject Dynamics uses
TEST_EMAIL_MARK = "test-email"  # value of the generated-mail header on the test email
INBOX = "INBOX"
SMTP_DEFAULT_PORTS = {TlsMode.IMPLICIT: 465, TlsMode.STARTTLS: 587, TlsMode.NONE: 25}
_TLS_NAMES = {TlsMode.IMPLICIT: "implicit", TlsMode.STARTTLS: "starttls", TlsMode.NONE: "none"}

SendMail = Callable[[ConnectionSettings, EmailMessage], None]


@dataclass(frozen=True)
class Problem:
    """Why one workload failed its test."""

    workload: str  # "incoming" | "outgoing" | "act" | "mailbox" (a precondition)
    code: str
    message: str
    fix: str | None = None  # what to change, naming the field or setting, when the fix is known


def problems_text(problems: list[Problem]) -> str:
    """A failed test as a mailbox's last error: each workload's code and message."""
    text = "; ".join(f"{p.workload} {safe_code(p.code)}: {one_server_line(p.message)}" for p in problems)
    return f"Test & Enable failed: {text}"[:2048]


# What an administrator changes for each configuration problem found before any connection is made.
CONFIGURATION_FIXES = {
    "CredentialsNotAllowed": "set allow_credentials_for_email_processing to true on the mailbox "
    "(PATCH /api/mailboxes/{id}), or let the profile's credentials be used (incoming_credential_retrieval)",
    "CredentialsMissing": "set the mailbox's password (and username when it is not the address) with "
    "PATCH /api/mailboxes/{id}, or the profile's username and password (PATCH /api/profiles/{id})",
    "CredentialsUnreadable": "set the password again: it was sealed with another SYNC_SECRET_ENCRYPTION_KEY",
    "InvalidIncomingEmailServerProfileConfiguration": "set incoming_server_location on the email server profile",
    "InvalidOutgoingEmailServerProfileConfiguration": "set outgoing_server_location on the email server profile",
    "OAuthTokenSourceMissing": "this deployment has no OAuth token source for the profile's kind of login "
    "(see docs/oauth-mail.md); or choose another credential retrieval for the profile",
    "UnsupportedCredentialRetrieval": "choose a credential retrieval the profile's server type supports "
    "(incoming_credential_retrieval / outgoing_credential_retrieval)",
}


@dataclass
class TestReport:
    __test__ = False  # not a pytest class

    mailbox: Mailbox
    incoming: TestStatus = TestStatus.NOT_RUN
    outgoing: TestStatus = TestStatus.NOT_RUN
    act: TestStatus = TestStatus.NOT_RUN
    problems: list[Problem] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return not self.problems


# --- the outgoing test's SMTP send (small on purpose: the outgoing area owns real sending) ---------------------
def outgoing_connection(
    mailbox: Mailbox,
    profile: EmailServerProfile,
    box: SecretBox,
    ca_file: str | None = None,
    tokens: AccessTokenSource | None = None,
) -> ConnectionSettings:
    """The SMTP endpoint and credentials of ``mailbox`` (R-PROV-8); the same credentials as incoming when the
    profile says so (``usesamesettingsforoutgoingconnections``); an OAuth profile's tokens come from ``tokens``."""
    if not profile.outgoing_server_location:
        raise PermanentMailError(
            f"the email server profile {profile.name} has no outgoing server location",
            code="InvalidOutgoingEmailServerProfileConfiguration",
        )
    port = profile.outgoing_port or SMTP_DEFAULT_PORTS[profile.outgoing_tls]
    if outgoing_uses_oauth(profile):
        if tokens is None:
            raise MailAuthenticationError(
                f"the profile {profile.name} uses OAuth, and no OAuth token source is configured", code=NO_SOURCE_CODE
            )
        return ConnectionSettings(
            host=profile.outgoing_server_location,
            port=port,
            username=sasl_user(mailbox),
            password="",
            tls=_TLS_NAMES[profile.outgoing_tls],
            timeout_seconds=profile.connection_timeout_seconds,
            ca_file=ca_file,
            oauth=token_fetch(tokens, mailbox, profile),
        )
    same = profile.use_same_settings_for_outgoing
    mode = profile.incoming_credential_retrieval if same else profile.outgoing_credential_retrieval
    username: str | None
    password: str | None
    try:
        if mode is CredentialRetrieval.USER_OR_QUEUE:
            if not mailbox.allow_credentials_for_email_processing:
                raise MailAuthenticationError(
                    f"the mailbox {mailbox.name} does not allow its credentials to be used for email processing",
                    code="CredentialsNotAllowed",
                )
            username, password = mailbox.username or mailbox.email_address, mailbox_password(box, mailbox, profile)
        elif mode is CredentialRetrieval.EMAIL_SERVER_PROFILE:
            field_name = "incoming_password" if same else "outgoing_password"
            username = profile.incoming_username if same else profile.outgoing_username
            password = open_field(box, profile, field_name)
        elif mode is CredentialRetrieval.ANONYMOUS:
            username, password = "", ""
        else:
            raise PermanentMailError(
                f"credential retrieval {mode.name} is not available for SMTP", code="UnsupportedCredentialRetrieval"
            )
    except SecretError as exc:
        raise MailAuthenticationError(
            f"the stored password cannot be decrypted: {exc}", code="CredentialsUnreadable"
        ) from None
    if username is None or password is None:
        raise MailAuthenticationError(
            f"no username or password is set for the mailbox {mailbox.name}", code="CredentialsMissing"
        )
    return ConnectionSettings(
        host=profile.outgoing_server_location,
        port=port,
        username=username,
        password=password,
        tls=_TLS_NAMES[profile.outgoing_tls],
        timeout_seconds=profile.connection_timeout_seconds,
        ca_file=ca_file,
    )


def smtp_send(settings: ConnectionSettings, message: EmailMessage) -> None:
    """Submit one message over SMTP; failures become typed mail errors without the password in them."""
    where = f"SMTP {settings.host}:{settings.port}"
    if settings.oauth is not None:
        check_encrypted(settings.tls, where)
    timeout = settings.timeout_seconds or 60.0
    try:
        context = client_tls_context(settings.ca_file)
        client: smtplib.SMTP
        if settings.tls == "implicit":
            client = egress.CheckedSMTPSSL(settings.host, settings.port, timeout=timeout, context=context)
        else:
            client = egress.CheckedSMTP(settings.host, settings.port, timeout=timeout)
        with client:
            if settings.tls == "starttls":
                client.starttls(context=context)
            _login(client, settings, where)
            client.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailAuthenticationError(
            redact(f"{where}: authentication failed: {exc.smtp_code} {exc.smtp_error!r}", settings.password),
            code="OutgoingEmailAuthenticationError",
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentMailError(f"{where}: {exc}", code="SecureConnectionFailed") from None
    except smtplib.SMTPResponseException as exc:
        kind = TransientMailError if 400 <= exc.smtp_code < 500 else PermanentMailError
        text = redact(f"{where}: {exc.smtp_code} {exc.smtp_error!r}", settings.password)
        raise kind(text, code="SmtpException") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentMailError(f"{where}: recipients refused: {exc.recipients}", code="SmtpException") from None
    except smtplib.SMTPServerDisconnected as exc:
        raise TransientMailError(f"{where}: connection dropped: {exc}", code="ConnectionDropped") from None
    except smtplib.SMTPException as exc:
        raise PermanentMailError(redact(f"{where}: {exc}", settings.password), code="SmtpException") from None
    except OSError as exc:
        mapped = map_network_error(exc, where)
        if mapped is None:
            raise
        raise mapped from None


def _login(client: smtplib.SMTP, settings: ConnectionSettings, where: str) -> None:
    """AUTH with a bearer token (OAuth profiles), a username and password, or not at all (anonymous)."""
    if settings.oauth is not None:
        BearerLogin(settings.username, settings.host, settings.port, settings.oauth)(client, where)
    elif settings.username:
        client.login(settings.username, settings.password)


def connection_test_message(mailbox: Mailbox) -> EmailMessage:
    """The outgoing test email: from the mailbox to itself, marked as generated by this service."""
    address = mailbox.email_address or ""
    message = EmailMessage()
    message["From"] = address
    message["To"] = address
    message["Subject"] = TEST_SUBJECT
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    message[GENERATED_HEADER] = TEST_EMAIL_MARK
    message.set_content(
        f"This message was sent by server-side synchronization to test the mailbox {mailbox.name}.\n"
        "It confirms that email can be sent from this mailbox. You can delete it.\n"
    )
    return message


# --- the service -------------------------------------------------------------------------------------------------
Subscribe = Callable[[Mailbox, EmailServerProfile | None, list[str]], object]
"""Called with the workloads that passed, to subscribe them to push (never fails the test: it logs)."""


class TestAndEnable:
    __test__ = False  # not a pytest class

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        connectors: Mapping[ServerType, IncomingConnector | ExchangeConnector],
        send: SendMail = smtp_send,
        *,
        exchange: ExchangeSender | None = None,
        act: ActConnector | None = None,
        ca_file: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        profile_alerts: ProfileAlerts | None = None,
        tokens: AccessTokenSource | None = None,
        push: Subscribe | None = None,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.push = push
        self.exchange = exchange
        self.act = act
        self.box = box
        self.connectors = connectors
        self.send = send
        self.ca_file = ca_file
        self.clock = clock
        self.alerts = Alerts(store)
        self.profile_alerts = profile_alerts or ProfileAlerts(store, clock=clock)

    def run(
        self,
        mailbox_id: str,
        *,
        by: str | None = None,
        start_date: datetime | None = None,
        automatic: bool = False,
    ) -> TestReport:
        """Test ``mailbox_id`` and record the result; NotFound if it does not exist. ``automatic``: a scheduled
        or re-test run (R-TE-1, R-TE-11), which counts towards the re-test limit."""
        mailbox = self.store.get_mailbox(mailbox_id)
        org = self.store.get_organization()
        profile = self.store.find_profile(mailbox.email_server_profile_id or "")
        if start_date is not None:
            self._check_start_date(start_date, profile)
        report = TestReport(mailbox)
        blockers = self._preconditions(mailbox, profile, org)
        workloads = _configured(mailbox)
        # Every blocker at once: the mailbox's own, then each workload's configuration, before any connection.
        unusable = {name: self._configuration(name, mailbox, profile) for name in workloads}
        report.problems.extend(blockers)
        report.problems.extend(problem for problem in unusable.values() if problem is not None)
        if blockers:
            for name in workloads:
                setattr(report, name, TestStatus.FAILURE)
        else:
            assert profile is not None
            tests = {"incoming": self._test_incoming, "outgoing": self._test_outgoing, "act": self._test_act}
            for name in workloads:
                problem = unusable[name] or tests[name](mailbox, profile)
                setattr(report, name, TestStatus.FAILURE if problem else TestStatus.SUCCESS)
                if problem is not None and unusable[name] is None:
                    report.problems.append(problem)
        report.mailbox = self._record(mailbox.id, report, workloads, by, start_date, automatic)
        self._alert(report, profile, org, workloads)
        if report.incoming is TestStatus.SUCCESS:
            report.mailbox = schedule_now(self.store, mailbox.id)  # poll it now rather than at the next sweep
        if report.act is TestStatus.SUCCESS:
            report.mailbox = schedule_act_now(self.store, mailbox.id)
        passed = [name for name in ("incoming", "act") if getattr(report, name) is TestStatus.SUCCESS]
        if self.push is not None and passed:
            self.push(report.mailbox, profile, passed)  # Graph change notifications (docs/push.md)
        return report

    # --- steps --------------------------------------------------------------------------------------------------
    @staticmethod
    def _check_start_date(start: datetime, profile: EmailServerProfile | None) -> None:
        """R-TE-8: a mailbox's start date must be later than its profile's."""
        floor = profile.process_emails_received_after if profile else None
        if floor is not None and start <= floor:
            raise ValidationFailed(
                f"must be later than the profile's process-emails-received-after ({floor.isoformat()})",
                field="process_email_received_after",
            )

    def _preconditions(
        self, mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings
    ) -> list[Problem]:
        """Every reason the mailbox itself cannot be tested, each with what to change."""
        found = []
        if not mailbox.is_active:
            found.append(
                Problem(
                    "mailbox",
                    "MailboxDisabled",
                    f"the mailbox {mailbox.name} is deactivated",
                    "activate the mailbox: PATCH /api/mailboxes/{id} with state 0",
                )
            )
        if profile is None:
            found.append(
                Problem(
                    "mailbox",
                    "InvalidIncomingEmailServerProfile",
                    "no email server profile is associated with the mailbox",
                    "set email_server_profile_id on the mailbox, or apply the organization's default email settings",
                )
            )
        elif not profile.is_active:
            found.append(
                Problem(
                    "mailbox",
                    "InvalidIncomingEmailServerProfile",
                    f"the email server profile {profile.name} is inactive",
                    "activate the profile (state 0), or give the mailbox another email_server_profile_id",
                )
            )
        if not mailbox.email_address:
            found.append(Problem("mailbox", "NoEmailAddress", "the mailbox has no email address", "set email_address"))
        elif approval_required(mailbox, org) and mailbox.approval is not EmailAddressApproval.APPROVED:
            found.append(
                Problem(
                    "mailbox",
                    "EmailAddressNotApproved",
                    f"the email address {mailbox.email_address} is not approved",
                    "approve it: POST /api/mailboxes/{id}/approve (or switch off the organization's "
                    "require_approval_for_user_email / require_approval_for_queue_email)",
                )
            )
        owner = (
            self.store.find_record(EntityType.SYSTEM_USER, mailbox.owner.id)
            if mailbox.owner is not None and mailbox.is_user_mailbox
            else None
        )
        if isinstance(owner, SystemUser):
            if not owner.is_active or owner.is_disabled:
                found.append(  # 8005E273
                    Problem(
                        "mailbox",
                        "UserDisabled",
                        f"the user {owner.full_name} is disabled",
                        "enable the user (state 0, is_disabled false)",
                    )
                )
            if owner.access_mode is not AccessMode.READ_WRITE:
                found.append(
                    Problem(
                        "mailbox",
                        "800046",
                        f"the user {owner.full_name} is not in Read-Write access mode",
                        "set the user's access_mode to Read-Write (0)",
                    )
                )
        return found

    def _configuration(self, workload: str, mailbox: Mailbox, profile: EmailServerProfile | None) -> Problem | None:
        """Whether ``workload`` has what it needs to connect (address, credentials), checked without connecting."""
        if profile is None or profile.server_type.is_exchange or workload == "act":
            return None  # Exchange and ACT settle their credentials with the connection itself
        try:
            if workload == "incoming":
                incoming_connection(mailbox, profile, self.box, self.ca_file, self.tokens)
            else:
                outgoing_connection(mailbox, profile, self.box, self.ca_file, self.tokens)
        except MailServerError as exc:
            return Problem(workload, exc.code, str(exc), CONFIGURATION_FIXES.get(exc.code))
        return None

    def _test_incoming(self, mailbox: Mailbox, profile: EmailServerProfile) -> Problem | None:
        connector = self.connectors.get(profile.server_type)
        try:
            if connector is None:
                raise PermanentMailError(
                    f"incoming email over {profile.server_type.name} is not available", code="UnsupportedServerType"
                )
            if isinstance(connector, ExchangeConnector):
                exchange = connector.open_mailbox(mailbox, profile)
                exchange.probe()
                return None
            session = connector.open(incoming_connection(mailbox, profile, self.box, self.ca_file, self.tokens))
            try:
                session.list_new(FolderWatermark(folder=INBOX), frozenset())
            finally:
                session.close()
        except MailServerError as exc:
            return Problem("incoming", exc.code, str(exc))
        return None

    def _test_outgoing(self, mailbox: Mailbox, profile: EmailServerProfile) -> Problem | None:
        try:
            if profile.server_type.is_exchange:  # R-TE-5: the test email goes through EWS, to the mailbox itself
                if self.exchange is None:
                    raise PermanentMailError("sending through Exchange is not available", code="UnsupportedServerType")
                outbox = self.exchange.open_outbox(mailbox, profile)
                outbox.send(connection_test_message(mailbox).as_bytes(), save_copy=False)
                return None
            settings = outgoing_connection(mailbox, profile, self.box, self.ca_file, self.tokens)
            self.send(settings, connection_test_message(mailbox))
        except MailServerError as exc:
            return Problem("outgoing", exc.code, str(exc))
        return None

    def _test_act(self, mailbox: Mailbox, profile: EmailServerProfile) -> Problem | None:
        if not profile.server_type.is_exchange:
            return Problem("act", "ActNeedsExchange", "appointments, contacts and tasks sync only with Exchange")
        if self.act is None:
            return Problem("act", "ActUnavailable", "no connector for appointments, contacts and tasks is configured")
        if not mailbox.is_user_mailbox:
            return Problem("act", "ActNeedsUserMailbox", "queues do not sync appointments, contacts and tasks")
        try:
            exchange = self.act.open_act(mailbox, profile)
            exchange.probe()
            take_over = self.store.get_organization().act_sync_this_org_only_override
            check_claim(exchange, organization_id(self.store), self.clock(), take_over=take_over)  # R-TE-7
        except ActClaimedByAnotherOrganization as exc:
            fix = "PATCH /api/organization with act_sync_this_org_only_override true to take the mailbox over"
            return Problem("act", exc.code, str(exc), fix)
        except MailServerError as exc:
            return Problem("act", exc.code, str(exc))
        return None

    # --- results ------------------------------------------------------------------------------------------------
    def _record(
        self,
        mailbox_id: str,
        report: TestReport,
        workloads: list[str],
        by: str | None,
        start: datetime | None,
        automatic: bool,
    ) -> Mailbox:
        now = self.clock()

        def write(m: Mailbox) -> None:
            for name in workloads:
                status: TestStatus = getattr(report, name)
                setattr(m, f"{name}_status", status)
                setattr(m, f"enabled_for_{name}", status is TestStatus.SUCCESS)
            m.mailbox_status = _overall(report, workloads)
            m.test_mailbox_access_completed_on = now
            m.test_and_enable_last_attempted_on = now
            m.test_and_enable_last_attempted_by = by
            record_outcome(m, succeeded=report.succeeded, now=now, manual=not automatic)  # R-TE-11
            if start is not None:
                m.process_email_received_after = start
            if report.incoming is TestStatus.SUCCESS:
                inbox = m.watermarks.get(INBOX)
                pending = inbox.pending_deletes if inbox else []
                m.watermarks = {**m.watermarks, INBOX: FolderWatermark(folder=INBOX, pending_deletes=pending)}
                m.transient_failure_count = 0
                m.last_sync_error_count = 0
                m.receiving_postponed_until = None
            if report.problems:  # the mailbox's last error, as a cycle's: its health and the console show it
                m.last_sync_error = problems_text(report.problems)
                m.last_sync_error_code = None
                m.last_sync_error_occurred_on = now
                if report.incoming is TestStatus.FAILURE:  # the count is incoming's failures in a row
                    m.last_sync_error_count += 1

        return self.store.mailboxes.modify(mailbox_id, "mailbox", write)

    def _alert(
        self, report: TestReport, profile: EmailServerProfile | None, org: OrganizationSettings, workloads: list[str]
    ) -> None:
        mailbox = report.mailbox
        mailbox_ref = EntityRef(type=EntityType.MAILBOX, id=mailbox.id)
        profile_id = profile.id if profile else None
        if report.succeeded:
            self.alerts.raise_alert(
                org, success_text(mailbox.name, workloads), mailbox_ref, mailbox_id=mailbox.id, profile_id=profile_id
            )
            self._dismiss_failures(org, mailbox)
            return
        for problem in report.problems:
            text = _failure_text(mailbox, profile, problem)
            self.alerts.raise_alert(org, text, mailbox_ref, mailbox_id=mailbox.id, profile_id=profile_id)
            if profile is not None:  # the profile's owner is notified too, on the profile's own alert (R-ERR-5)
                self.profile_alerts.mailbox_failed(org, profile, mailbox, text)

    def _dismiss_failures(self, org: OrganizationSettings, mailbox: Mailbox) -> None:
        """A success closes the mailbox's test failures and takes it off its profiles' alerts."""
        profiles = {mailbox.email_server_profile_id}
        for alert in self.alerts.for_mailbox(mailbox.id):
            if alert.code in FAILURE_CODES and not alert.dismissed:
                alert.dismissed = True
                self.store.alerts.upsert(alert)
            profiles.add(alert.profile_id)
        self.profile_alerts.mailbox_recovered(org, mailbox.id, profiles)


def _failure_text(mailbox: Mailbox, profile: EmailServerProfile | None, problem: Problem) -> AlertText:
    if problem.code == OTHER_ORGANIZATION_CODE and profile is not None:  # R-TE-7: Dynamics' own alert
        return act_other_organization_text(mailbox, profile.name, problem.code, problem.message)
    profile_name = profile.name if profile else None
    return failure_text(mailbox.name, profile_name, problem.workload, problem.code, problem.message)


def _configured(mailbox: Mailbox) -> list[str]:
    """The workloads that use server-side synchronization, so Test & Enable tests them."""
    names = []
    if mailbox.is_forward_mailbox or mailbox.incoming_method is IncomingDeliveryMethod.SERVER_SIDE_SYNC:
        names.append("incoming")
    if not mailbox.is_forward_mailbox and mailbox.outgoing_method is OutgoingDeliveryMethod.SERVER_SIDE_SYNC:
        names.append("outgoing")
    if mailbox.act_method is ActDeliveryMethod.SERVER_SIDE_SYNC:
        names.append("act")
    return names


def _overall(report: TestReport, workloads: list[str]) -> TestStatus:
    statuses = [getattr(report, name) for name in workloads]
    if not statuses:
        return TestStatus.FAILURE if report.problems else TestStatus.NOT_RUN
    return TestStatus.FAILURE if TestStatus.FAILURE in statuses else TestStatus.SUCCESS
