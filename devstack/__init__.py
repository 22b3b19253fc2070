"""Real local servers for tests and the demo: Azurite, Dovecot, Mailutils, an SMTP server, a test CA.

Nothing here is mocked: each class runs the real server on free loopback ports and
cleans up after itself, so integration tests exercise the same protocols as production.
"""

from devstack.azurite import Azurite
from devstack.certs import TestCA
from devstack.dovecot import Dovecot
from devstack.errors import DevstackError, MissingDependencyError, ServiceStartError
from devstack.mail_server import MailServer
from devstack.mailutils import Mailutils
from devstack.ports import free_port, free_ports, wait_for_port
from devstack.smtp import ReceivedMessage, SmtpServer
from devstack.stack import LocalStack

__all__ = [
    "Azurite",
    "DevstackError",
    "Dovecot",
    "LocalStack",
    "MailServer",
    "Mailutils",
    "MissingDependencyError",
    "ReceivedMessage",
    "ServiceStartError",
    "SmtpServer",
    "TestCA",
    "free_port",
    "free_ports",
    "wait_for_port",
]
