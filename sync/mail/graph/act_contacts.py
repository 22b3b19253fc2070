"""Graph contacts as the canonical contact fields of ACT sync, and back — pure.

As with EWS (``sync/mail/ews/act_items.py``) the business address is the mailing address (R-ACT-16) and the
display name follows the first and last name. Graph keeps e-mail addresses as one ordered list, so
``email1``..``email3`` are its first three entries and are written together; the business phone is the first
of ``businessPhones``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from sync.act import fields as canonical

PLAIN = {"first_name": "givenName", "last_name": "surname", "job_title": "jobTitle", "company": "companyName"}
EMAILS = ("email1", "email2", "email3")
ADDRESS = {"street": "street", "city": "city", "postal_code": "postalCode", "country": "countryOrRegion"}
NAMES = ("first_name", "last_name")


def contact_fields(contact: Mapping[str, Any]) -> dict[str, object]:
    emails = [e.get("address") for e in contact.get("emailAddresses") or []]
    phones = contact.get("businessPhones") or []
    address = contact.get("businessAddress") or {}
    return {
        **{name: canonical.text(contact.get(prop)) for name, prop in PLAIN.items()},
        **{name: canonical.email(emails[n] if n < len(emails) else None) for n, name in enumerate(EMAILS)},
        "business_phone": canonical.text(phones[0] if phones else None),
        "mobile_phone": canonical.text(contact.get("mobilePhone")),
        **{name: canonical.text(address.get(prop)) for name, prop in ADDRESS.items()},
    }


def contact_body(fields: Mapping[str, object], changed: Iterable[str]) -> dict[str, Any]:
    """The Graph properties for the ``changed`` canonical names; ``fields`` holds every name they need."""
    names = set(changed)
    body: dict[str, Any] = {prop: fields[name] for name, prop in PLAIN.items() if name in names}
    if names & set(NAMES):
        body["displayName"] = " ".join(str(fields[n]) for n in NAMES if fields.get(n))
    if names & set(EMAILS):
        body["emailAddresses"] = [{"address": fields[n], "name": fields[n]} for n in EMAILS if fields.get(n)]
    if "business_phone" in names:
        body["businessPhones"] = [fields["business_phone"]] if fields["business_phone"] else []
    if "mobile_phone" in names:
        body["mobilePhone"] = fields["mobile_phone"]
    if names & set(ADDRESS):
        body["businessAddress"] = {prop: cast(str | None, fields[name]) or "" for name, prop in ADDRESS.items()}
    return body


def needs_current(changed: Iterable[str]) -> bool:
    """Names, e-mail addresses and the address are written whole: a partial change needs the rest."""
    names = set(changed)
    return any(names & set(group) and not set(group) <= names for group in (NAMES, EMAILS, tuple(ADDRESS)))
