"""Entra ID sign-in to the console (authorization code with PKCE, through MSAL) against the local stack's
Entra ID mock: the ID token's app roles decide what the person may do."""

from __future__ import annotations

import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from devstack import TestCA
from devstack.entra import CLIENT_ID, CLIENT_SECRET, EntraMock
from sync.api.app import create_app
from tests.integration.console.conftest import DESKTOP, ConsoleWorld, screenshot

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def entra(stack_dir: Path, test_ca: TestCA) -> Iterator[EntraMock]:
    with EntraMock(stack_dir / "console-entra", test_ca, tenant="contoso-tenant") as mock:
        yield mock


def entra_app(world: ConsoleWorld, entra: EntraMock, secret: str = CLIENT_SECRET) -> FastAPI:
    settings = world.settings.model_copy(
        update={
            "api_tenant_id": entra.tenant, "api_audience": "api://sync-admin", "api_authority": entra.authority,
            "console_client_id": CLIENT_ID, "console_client_secret": secret,
        }
    )  # fmt: skip
    settings = type(settings).model_validate(settings.model_dump())  # the secret as the settings model holds it
    return create_app(settings, lambda: world.store)


@pytest.fixture(scope="module")
def app(console_world: ConsoleWorld, entra: EntraMock) -> FastAPI:
    return entra_app(console_world, entra)


def at_the_provider(url: str, ca: TestCA) -> str:
    """What the identity provider's authorize endpoint answers: the redirect back to the console."""
    context = ssl.create_default_context(cafile=str(ca.ca_cert))

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
    with pytest.raises(urllib.error.HTTPError) as redirected:
        opener.open(url, timeout=10)
    assert redirected.value.code == 302
    return str(redirected.value.headers["Location"])


def sign_in_with_entra(client: TestClient, ca: TestCA, login_hint: str) -> tuple[str, httpx.Response]:
    started = client.get("/console/signin/entra", params={"login_hint": login_hint}, follow_redirects=False)
    assert started.status_code == 303
    authorize = urlsplit(started.headers["location"])
    asked = parse_qs(authorize.query)
    assert asked["code_challenge_method"] == ["S256"] and asked["code_challenge"]  # PKCE
    assert asked["redirect_uri"] == ["http://testserver/console/signin/callback"]
    assert asked["response_mode"] == ["form_post"]  # the mock answers with a redirect (query) all the same
    back = urlsplit(at_the_provider(started.headers["location"], ca))
    return f"{back.path}?{back.query}", client.get(f"{back.path}?{back.query}")


def test_an_administrator_signs_in_with_entra_id(app: FastAPI, entra: EntraMock, test_ca: TestCA) -> None:
    with TestClient(app) as client:
        page = client.get("/console/signin")
        assert "Sign in with Microsoft" in page.text
        callback, answer = sign_in_with_entra(client, test_ca, "admin@contoso.test")
        assert answer.status_code == 200, answer.text
        grid = client.get("/console/mailboxes")
        assert grid.status_code == 200 and "Ada Admin" in grid.text and "Test &amp; Enable</button>" in grid.text
        assert client.get(callback).status_code == 400  # the same answer again: that sign-in is finished


def test_a_reader_signs_in_to_read_only(app: FastAPI, entra: EntraMock, test_ca: TestCA) -> None:
    with TestClient(app) as client:
        sign_in_with_entra(client, test_ca, "reader@contoso.test")
        grid = client.get("/console/mailboxes")
        assert "Rita Reader (read only)" in grid.text and 'name="mailbox"' not in grid.text


def test_an_account_without_an_app_role_is_refused(app: FastAPI, entra: EntraMock, test_ca: TestCA) -> None:
    with TestClient(app) as client:
        _, answer = sign_in_with_entra(client, test_ca, "nobody@contoso.test")
        assert answer.status_code == 403 and "none of the app roles" in answer.text
        assert client.get("/console/mailboxes", follow_redirects=False).status_code == 303


def test_the_answer_as_a_form_post_signs_in(app: FastAPI, entra: EntraMock, test_ca: TestCA) -> None:
    """Entra ID posts the code and state as a form (response_mode=form_post); the mock redirects instead, so its
    answer is posted here as Entra would post it."""
    with TestClient(app) as client:
        started = client.get(
            "/console/signin/entra", params={"login_hint": "admin@contoso.test"}, follow_redirects=False
        )
        answer = parse_qs(urlsplit(at_the_provider(started.headers["location"], test_ca)).query)
        posted = client.post("/console/signin/callback", data={name: values[0] for name, values in answer.items()})
        assert posted.status_code == 200 and "Signed in" in posted.text
        assert "Ada Admin" in client.get("/console/mailboxes").text


def test_a_callback_this_app_did_not_start_is_refused(app: FastAPI) -> None:
    with TestClient(app) as client:
        answer = client.get("/console/signin/callback", params={"code": "made-up", "state": "made-up"})
        assert answer.status_code == 400 and "unknown" in answer.text


def test_a_wrong_client_secret_reports_the_providers_words(
    console_world: ConsoleWorld, entra: EntraMock, test_ca: TestCA
) -> None:
    with TestClient(entra_app(console_world, entra, secret="not-the-secret")) as client:
        _, answer = sign_in_with_entra(client, test_ca, "admin@contoso.test")
        assert answer.status_code == 401 and "invalid_client" in answer.text


def test_entra_sign_in_in_the_browser(browser: Browser, app: FastAPI) -> None:
    """The whole round trip in Chromium: the console, the provider's redirect, the callback, the grid."""
    import threading  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    from devstack import free_port  # noqa: PLC0415
    from devstack.ports import LOOPBACK, wait_for_port  # noqa: PLC0415

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    context = browser.new_context(viewport=DESKTOP, ignore_https_errors=True)  # the mock's certificate: test CA
    try:
        wait_for_port(LOOPBACK, port, 30.0, service="console app")
        page = context.new_page()
        page.goto(f"http://{LOOPBACK}:{port}/console/signin")
        screenshot(page, "signin-entra")
        page.get_by_role("link", name="Sign in with Microsoft").click()
        expect(page).to_have_url(re.compile(r"/console/mailboxes$"))
        expect(page.locator(".who")).to_contain_text("Ada Admin")
    finally:
        context.close()
        server.should_exit = True
        thread.join(timeout=30)
