"""CRUD routes built from the entity models, so the API can never drift from what is stored.

A :class:`Shape` derives three pydantic models from an entity: the output (secrets replaced by ``<name>_is_set``
flags, plus the ``etag``), the create input and the PATCH input (system-managed fields left out, unknown fields
refused, secrets as write-only plaintext that is sealed before it is stored), with option sets read and answered
by name and number and references by table name (``readable.py``), and each field's description from the entity.
:func:`crud_router` mounts list (paged, with equality filters), get, create, update and delete; each area supplies
the writes that keep its invariants (the address index, one mailbox per owner...).

This module does not use postponed annotations: the route signatures are built at run time from the models.
"""

import base64
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Annotated, Any, Generic, TypeVar

from azure.core.exceptions import HttpResponseError
from fastapi import APIRouter, Header, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model
from pydantic.fields import FieldInfo

from sync.api.auth import Admin, Reader
from sync.api.context import ApiContext, Ctx
from sync.api.readable import api_annotation, api_field, choices
from sync.auth.secrets import SecretBox, seal_field
from sync.errors import ConcurrencyConflict
from sync.model.base import Entity
from sync.store.repository import Repository
from sync.store.store import Store

E = TypeVar("E", bound=Entity)

SYSTEM_FIELDS = frozenset({"id", "created_on", "modified_on", "version_number", "created_by", "modified_by"})
MAX_PAGE_SIZE = 1000

ItemId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="The record's id.")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")]
Continuation = Annotated[
    str | None, Query(max_length=4096, description="The token a previous page returned, for the next page.")
]
IfMatch = Annotated[
    str | None, Header(max_length=512, description="The ETag read earlier: the change fails with 412 if it moved.")
]


SECRET_CHARS = 250  # a password or client secret
LONG_SECRET_CHARS = 8192  # a service account's JSON key is about 2,400 characters


@dataclass(frozen=True)
class Shape(Generic[E]):
    """How an entity type appears in the API."""

    model: type[E]
    secrets: tuple[str, ...] = ()
    read_only: frozenset[str] = frozenset()  # system-managed: shown, never written through the API
    create_only: frozenset[str] = frozenset()  # set on create, fixed afterwards
    hidden: frozenset[str] = frozenset()  # internal bookkeeping not worth showing
    long_secrets: frozenset[str] = frozenset()  # secrets longer than a password: a key file (up to 8 KiB)
    _models: dict[str, type[BaseModel]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.model.__name__

    def _writable(self, *, creating: bool) -> dict[str, FieldInfo]:
        skip = SYSTEM_FIELDS | self.read_only | self.hidden | set(self.secrets)
        if not creating:
            skip |= self.create_only
        return {n: f for n, f in self.model.model_fields.items() if n not in skip}

    def output_model(self) -> type[BaseModel]:
        if "out" not in self._models:
            shown = {n: f for n, f in self.model.model_fields.items() if n not in self.hidden and n not in self.secrets}
            fields: dict[str, Any] = {n: api_field(f) for n, f in shown.items()}
            for secret in self.secrets:
                fields[f"{secret}_is_set"] = (bool, Field(description=f"Whether {secret} is set (never returned)."))
            fields["etag"] = (str | None, Field(default=None, description="Send it back in If-Match to update."))
            self._models["out"] = create_model(f"{self.name}Out", **fields)
        return self._models["out"]

    def page_model(self) -> type[BaseModel]:
        """One page of outputs and the token for the next."""
        if "page" not in self._models:
            out = self.output_model()
            self._models["page"] = create_model(
                f"{self.name}Page",
                items=(list[out], Field(description="The items on this page.")),  # type: ignore[valid-type]
                continuation=(
                    str | None,
                    Field(default=None, description="Pass to get the next page; null on the last."),
                ),
            )
        return self._models["page"]

    def create_model(self) -> type[BaseModel]:
        if "create" not in self._models:
            writable = self._writable(creating=True)
            fields: dict[str, Any] = {n: api_field(f, as_input=True) for n, f in writable.items()}
            fields.update(self._secret_inputs())
            self._models["create"] = create_model(f"{self.name}Create", __config__=ConfigDict(extra="forbid"), **fields)
        return self._models["create"]

    def update_model(self) -> type[BaseModel]:
        if "update" not in self._models:
            fields: dict[str, Any] = {}
            for n, f in self._writable(creating=False).items():
                annotation, optional = api_field(f)
                optional.default, optional.default_factory = None, None  # absent = unchanged (null is validated)
                fields[n] = (annotation, optional)
            fields.update(self._secret_inputs())
            self._models["update"] = create_model(f"{self.name}Update", __config__=ConfigDict(extra="forbid"), **fields)
        return self._models["update"]

    def _secret_inputs(self) -> dict[str, Any]:
        return {
            s: (
                SecretStr | None,
                Field(
                    default=None,
                    max_length=LONG_SECRET_CHARS if s in self.long_secrets else SECRET_CHARS,
                    description="Write-only; null clears it.",
                ),
            )
            for s in self.secrets
        }

    # --- conversions --------------------------------------------------------------------------------------------
    def output(self, entity: E) -> dict[str, Any]:
        """The entity as the API shows it: option sets with name and number, references by table name."""
        data = entity.model_dump(exclude=set(self.secrets) | set(self.hidden))
        for secret in self.secrets:
            data[f"{secret}_is_set"] = getattr(entity, secret) is not None
        data["etag"] = entity.etag
        shown: dict[str, Any] = self.output_model().model_validate(data).model_dump(mode="json")
        return shown

    def changes(self, body: BaseModel) -> dict[str, Any]:
        """The fields the caller sent, secrets aside."""
        return body.model_dump(exclude=set(self.secrets), exclude_unset=True)

    def build(self, body: BaseModel, box: SecretBox, **extra: Any) -> E:
        """A new entity from a create body (validated by the entity's own rules), its secrets sealed."""
        entity = self.model.model_validate({**self.changes(body), **extra})
        self.seal(entity, body, box)
        return entity

    def merged(self, entity: E, body: BaseModel, box: SecretBox) -> E:
        """``entity`` with the PATCH body applied, validated as a whole; keeps the ETag it was read with."""
        updated = self.model.model_validate({**entity.model_dump(), **self.changes(body)})
        updated.with_etag(entity.etag)
        self.seal(updated, body, box)
        return updated

    def seal(self, entity: E, body: BaseModel, box: SecretBox) -> None:
        for secret in self.secrets:
            if secret in body.model_fields_set:
                value: SecretStr | None = getattr(body, secret)
                seal_field(box, entity, secret, value.get_secret_value() if value is not None else None)


def odata_filter(filters: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """An equality filter over the given (already validated) values; enums compare as stored (integers)."""
    present = {n: (v.value if isinstance(v, Enum) else v) for n, v in filters.items() if v is not None}
    if not present:
        return None, {}
    return " and ".join(f"{n} eq @{n}" for n in present), present


def filter_description(name: str, annotation: Any) -> str:
    """What a list filter does; an option set's names with their numbers (an unknown one is a 422)."""
    text = f"Only items whose {name} equals this."
    if isinstance(annotation, type) and issubclass(annotation, IntEnum):
        text += f" A name (any case) or a number: {choices(annotation)}."
    return text


def check_continuation(token: str | None) -> None:
    """A token this API handed out is base64 JSON of string keys; anything else is a 400, not a storage error."""
    if token is None:
        return
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, UnicodeError, RecursionError):  # RecursionError: a deeply nested forgery
        decoded = None
    if not isinstance(decoded, dict) or not all(isinstance(v, str) for v in decoded.values()):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid continuation token: send back one a page returned")


def query_page(
    repository: Repository[E], query: str | None, params: dict[str, Any], page_size: int, continuation: str | None
) -> tuple[list[E], str | None]:
    """One page; a token the storage refuses is the caller's mistake (400)."""
    check_continuation(continuation)
    try:
        found = repository.query_page(query, params, page_size=page_size, continuation=continuation)
    except HttpResponseError:
        if continuation is None:
            raise
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "invalid continuation token") from None
    return found.items, found.continuation


def check_if_match(entity: Entity, if_match: str | None) -> None:
    if if_match is not None and if_match not in ("*", entity.etag):
        raise ConcurrencyConflict(f"{type(entity).__name__} {entity.id} changed since that ETag was read")


def with_signature(func: Callable[..., Any], **changes: Any) -> Callable[..., Any]:
    """Give ``func`` run-time annotations (derived models) and extra keyword-only query parameters.

    ``changes`` maps a parameter name to its annotation; names the function lacks become keyword-only
    parameters (they arrive in ``**filters``)."""
    signature = inspect.signature(func)
    params = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    params = [p.replace(annotation=changes[p.name]) if p.name in changes else p for p in params]
    known = {p.name for p in params}
    params += [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=a)
        for n, a in changes.items()
        if n not in known
    ]
    params.sort(key=lambda p: p.kind)
    func.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return func


@dataclass
class Resource(Generic[E]):
    """One collection under ``/api``: how to reach its repository and how to write it safely."""

    path: str  # e.g. "/profiles"
    tag: str
    shape: Shape[E]
    repository: Callable[[Store], Repository[E]]
    row_key: str
    filters: dict[str, Any] = field(default_factory=dict)  # query name -> annotation (equality on the column)
    insert: Callable[[ApiContext, BaseModel], E] | None = None  # None: no POST
    save: Callable[[ApiContext, E, E], E] | None = None  # (stored, changed) -> saved; default: ETag update
    remove: Callable[[ApiContext, E], None] | None = None  # None: no DELETE
    summary: str = ""
    create_body: type[BaseModel] | None = None  # a create input of its own instead of the derived one
    updatable: bool = True  # False: no PATCH

    def load(self, ctx: ApiContext, item_id: str) -> E:
        return self.repository(ctx.store).get(item_id, self.row_key)


def crud_router(resource: Resource[E]) -> APIRouter:
    router = APIRouter(prefix=resource.path, tags=[resource.tag])
    shape = resource.shape
    out = shape.output_model()
    page = shape.page_model()
    noun = shape.name

    def list_items(
        ctx: Ctx, _: Reader, page_size: PageSize = 100, continuation: Continuation = None, **filters: Any
    ) -> dict[str, Any]:
        query, params = odata_filter(filters)
        items, token = query_page(resource.repository(ctx.store), query, params, page_size, continuation)
        return {"items": [shape.output(e) for e in items], "continuation": token}

    filter_params = {
        n: Annotated[api_annotation(a) | None, Query(description=filter_description(n, a))]
        for n, a in resource.filters.items()
    }
    router.add_api_route(
        "",
        with_signature(list_items, **filter_params),
        methods=["GET"],
        response_model=page,
        summary=f"List {resource.tag}",
        description=resource.summary,
    )

    def get_item(item_id: ItemId, ctx: Ctx, _: Reader, response: Response) -> dict[str, Any]:
        entity = resource.load(ctx, item_id)
        response.headers["ETag"] = entity.etag or ""
        return shape.output(entity)

    router.add_api_route(
        "/{item_id}",
        get_item,
        methods=["GET"],
        response_model=out,
        summary=f"Get one {noun}",
        responses={404: {"description": "Not found"}},
    )

    if resource.insert is not None:
        insert = resource.insert

        def create_item(body: BaseModel, ctx: Ctx, _: Admin, response: Response) -> dict[str, Any]:
            entity = insert(ctx, body)
            response.headers["ETag"] = entity.etag or ""
            return shape.output(entity)

        router.add_api_route(
            "",
            with_signature(create_item, body=resource.create_body or shape.create_model()),
            methods=["POST"],
            response_model=out,
            status_code=status.HTTP_201_CREATED,
            summary=f"Create a {noun}",
            responses={409: {"description": "Already exists"}},
        )

    if resource.updatable:

        def update_item(
            item_id: ItemId, body: BaseModel, ctx: Ctx, _: Admin, response: Response, if_match: IfMatch = None
        ) -> dict[str, Any]:
            stored = resource.load(ctx, item_id)
            check_if_match(stored, if_match)
            changed = shape.merged(stored, body, ctx.box)
            saved = (
                resource.save(ctx, stored, changed) if resource.save else resource.repository(ctx.store).update(changed)
            )
            response.headers["ETag"] = saved.etag or ""
            return shape.output(saved)

        router.add_api_route(
            "/{item_id}",
            with_signature(update_item, body=shape.update_model()),
            methods=["PATCH"],
            response_model=out,
            summary=f"Update a {noun} (only the fields sent)",
            responses={
                404: {"description": "Not found"},
                409: {"description": "Conflict"},
                412: {"description": "If-Match does not match"},
            },
        )

    if resource.remove is not None:
        remove = resource.remove

        def delete_item(item_id: ItemId, ctx: Ctx, _: Admin, if_match: IfMatch = None) -> Response:
            stored = resource.load(ctx, item_id)
            check_if_match(stored, if_match)
            remove(ctx, stored)
            return Response(status_code=status.HTTP_204_NO_CONTENT)

        router.add_api_route(
            "/{item_id}",
            delete_item,
            methods=["DELETE"],
            status_code=status.HTTP_204_NO_CONTENT,
            summary=f"Delete a {noun}",
            responses={404: {"description": "Not found"}},
        )
    return router
