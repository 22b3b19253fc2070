"""The EWS SOAP 1.1 wire format: reading requests, writing envelopes, response messages and faults.

Shapes follow responses captured from Exchange 2016 (and the ones exchangelib parses): every operation
answers ``m:{Op}Response/m:ResponseMessages/m:{Op}ResponseMessage`` with ``ResponseClass`` and a
``ResponseCode``, and request-level failures (throttling, unknown operations) are SOAP faults sent with
HTTP 500, which is how Exchange reports them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
M_NS = "http://schemas.microsoft.com/exchange/services/2006/messages"
T_NS = "http://schemas.microsoft.com/exchange/services/2006/types"
ERRORS_NS = "http://schemas.microsoft.com/exchange/services/2006/errors"
NAMESPACES = {"s": SOAP_NS, "m": M_NS, "t": T_NS, "e": ERRORS_NS}
for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)  # so responses use Exchange's prefixes, not ns0/ns1

# Exchange 2016 CU; Version is the API version string such servers report
SERVER_VERSION = {
    "MajorVersion": "15",
    "MinorVersion": "1",
    "MajorBuildNumber": "2507",
    "MinorBuildNumber": "6",
    "Version": "V2017_07_11",
}


class SoapFault(Exception):
    """Ends a request with a SOAP fault; ``code`` is an EWS ResponseCode such as ErrorServerBusy."""

    def __init__(self, code: str, text: str, *, back_off_ms: int | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.back_off_ms = back_off_ms


def qname(tag: str) -> str:
    """``"t:Subject"`` -> ``"{types-ns}Subject"``."""
    prefix, _, local = tag.partition(":")
    return f"{{{NAMESPACES[prefix]}}}{local}"


def local_name(node: ET.Element) -> str:
    """``{types-ns}Subject`` -> ``Subject``."""
    return node.tag.rpartition("}")[2]


def element(tag: str, text: str | None = None, /, **attrs: str) -> ET.Element:
    node = ET.Element(qname(tag), attrs)
    node.text = text
    return node


def child(parent: ET.Element, tag: str, text: str | None = None, /, **attrs: str) -> ET.Element:
    node = element(tag, text, **attrs)
    parent.append(node)
    return node


def find(node: ET.Element, path: str) -> ET.Element | None:
    return node.find(path, NAMESPACES)


def findall(node: ET.Element, path: str) -> list[ET.Element]:
    return node.findall(path, NAMESPACES)


def text_of(node: ET.Element, path: str) -> str | None:
    found = find(node, path)
    return None if found is None or found.text is None else found.text.strip()


@dataclass(frozen=True)
class Request:
    """What the server needs from a request before it dispatches it."""

    operation: str
    body: ET.Element  # the m:{Operation} element
    impersonated: str | None  # ExchangeImpersonation/ConnectingSID/PrimarySmtpAddress (or SmtpAddress)
    mailbox: str | None  # the first mailbox a DistinguishedFolderId names (never an attendee's or a recipient's)


def parse_request(data: bytes) -> Request:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise SoapFault("ErrorSchemaValidation", f"The request is not well-formed XML: {e}") from e
    body = find(root, "s:Body")
    if root.tag != qname("s:Envelope") or body is None or len(body) == 0:
        raise SoapFault("ErrorSchemaValidation", "The request is not a SOAP 1.1 envelope with a body.")
    operation = body[0]
    header = find(root, "s:Header")
    sid = None if header is None else find(header, "t:ExchangeImpersonation/t:ConnectingSID")
    impersonated = None
    if sid is not None:
        impersonated = text_of(sid, "t:PrimarySmtpAddress") or text_of(sid, "t:SmtpAddress")
    return Request(
        operation=local_name(operation),
        body=operation,
        impersonated=impersonated,
        mailbox=text_of(operation, ".//t:DistinguishedFolderId/t:Mailbox/t:EmailAddress"),
    )


def envelope(content: ET.Element, *, with_version: bool = True) -> bytes:
    root = element("s:Envelope")
    if with_version:
        child(child(root, "s:Header"), "t:ServerVersionInfo", **SERVER_VERSION)
    child(root, "s:Body").append(content)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def response(operation: str, messages: list[ET.Element]) -> ET.Element:
    node = element(f"m:{operation}Response")
    child(node, "m:ResponseMessages").extend(messages)
    return node


def success(operation: str, *children: ET.Element) -> ET.Element:
    node = element(f"m:{operation}ResponseMessage", ResponseClass="Success")
    child(node, "m:ResponseCode", "NoError")
    node.extend(children)
    return node


def error(operation: str, code: str, text: str, *children: ET.Element) -> ET.Element:
    node = element(f"m:{operation}ResponseMessage", ResponseClass="Error")
    child(node, "m:MessageText", text)
    child(node, "m:ResponseCode", code)
    child(node, "m:DescriptiveLinkKey", "0")
    node.extend(children)
    return node


def fault(problem: SoapFault) -> bytes:
    """A SOAP fault as Exchange sends it; ErrorServerBusy carries BackOffMilliseconds in MessageXml."""
    node = element("s:Fault")
    code = ET.SubElement(node, "faultcode")
    code.text = f"a:{problem.code}"
    code.set("xmlns:a", T_NS)
    ET.SubElement(node, "faultstring", {"xml:lang": "en-US"}).text = problem.text
    detail = ET.SubElement(node, "detail")
    child(detail, "e:ResponseCode", problem.code)
    child(detail, "e:Message", problem.text)
    if problem.back_off_ms is not None:
        child(child(detail, "t:MessageXml"), "t:Value", str(problem.back_off_ms), Name="BackOffMilliseconds")
    return envelope(node, with_version=False)
