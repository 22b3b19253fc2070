"""A throwaway certificate authority for the local TLS servers.

Generated fresh for each run (nothing secret is checked in) so tests can verify
hostnames against a real chain instead of switching verification off.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_HOSTNAME = "localhost"  # clients must connect by this name for verification to pass
RSA_BITS = 2048  # RSA rather than EC: every server here (Dovecot, Node, aiosmtpd) accepts it
VALIDITY = datetime.timedelta(days=7)
CLOCK_SKEW = datetime.timedelta(hours=1)
FALLBACK_SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class TestCA:
    """PEM files of a test CA and one server certificate for ``localhost``/127.0.0.1."""

    __test__: ClassVar[bool] = False  # not a pytest test class despite the name

    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path

    @classmethod
    def create(cls, directory: Path) -> TestCA:
        """Generate the CA and the server certificate and write them into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "devstack test CA")])
        ca_cert = (
            _builder(ca_name, ca_name, ca_key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        server_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_HOSTNAME)])
        san = x509.SubjectAlternativeName(
            [x509.DNSName(SERVER_HOSTNAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        )
        server_cert = (
            _builder(server_name, ca_name, server_key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(san, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        ca = cls(
            directory=directory,
            ca_cert=directory / "ca.pem",
            server_cert=directory / "server.pem",
            server_key=directory / "server-key.pem",
        )
        ca.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        ca.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
        key_pem = server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        fd = os.open(ca.server_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        return ca

    def ssl_client_context(self) -> ssl.SSLContext:
        """A client context that trusts only the test CA and checks the hostname."""
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def ssl_server_context(self) -> ssl.SSLContext:
        """A server context presenting the ``localhost`` certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.server_cert), str(self.server_key))
        return context

    def combined_bundle(self, path: Path) -> Path:
        """Write the system CA bundle followed by the test CA to ``path`` and return it.

        ``requests`` lets ``REQUESTS_CA_BUNDLE`` override ``verify=``, so a client that
        must reach the local TLS servers needs that variable to point at a bundle that
        also holds the test CA.
        """
        system = system_ca_bundle()
        parts = [system.read_bytes()] if system.is_file() else []
        parts.append(self.ca_cert.read_bytes())
        path.write_bytes(b"\n".join(part.rstrip(b"\n") for part in parts) + b"\n")
        return path


def system_ca_bundle() -> Path:
    """The bundle clients trust today: ``REQUESTS_CA_BUNDLE``, else OpenSSL's default file."""
    configured = os.environ.get("REQUESTS_CA_BUNDLE")
    if configured:
        return Path(configured)
    cafile = ssl.get_default_verify_paths().cafile
    return Path(cafile) if cafile else FALLBACK_SYSTEM_BUNDLE


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not cert_sign,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
