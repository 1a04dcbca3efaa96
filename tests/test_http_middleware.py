"""The HTTP middlewares on daphne's event loop (eventplatform/http_middleware.py).

Every request here goes through Django's real ASGI handler (the application daphne runs for
HTTP) with the project's middleware, so the async path is the one exercised; the sync test
client elsewhere in the suite covers the unchanged sync path. Each test records in which
thread each middleware method ran: on the loop unless it needs the database.
"""

import re
import threading
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.contrib import messages
from django.contrib.sessions.models import Session
from django.core.handlers.asgi import ASGIHandler
from django.db import connection
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import include, path

from eventplatform import http_middleware

MIDDLEWARES = [
    http_middleware.SecurityMiddleware, http_middleware.SessionMiddleware, http_middleware.LocaleMiddleware,
    http_middleware.CommonMiddleware, http_middleware.CsrfViewMiddleware, http_middleware.AuthenticationMiddleware,
    http_middleware.MessageMiddleware, http_middleware.XFrameOptionsMiddleware,
]


# --- views for these tests, next to the project's own URLs ---------------------------------


async def whoami(request):
    user = await request.auser()
    return JsonResponse({"user": user.username if user.is_authenticated else None})


def remember(request):
    request.session["colour"] = request.GET["colour"]
    return JsonResponse({"ok": True})


def recall(request):
    return JsonResponse({"colour": request.session.get("colour")})


def note(request):
    messages.info(request, "Saved.")
    return HttpResponseRedirect("/test-mw/notes/")


def notes(request):
    return JsonResponse({"messages": [str(m) for m in messages.get_messages(request)]})


def form_post(request):
    return HttpResponse("accepted")


urlpatterns = [
    path("test-mw/whoami/", whoami),
    path("test-mw/remember/", remember),
    path("test-mw/recall/", recall),
    path("test-mw/note/", note),
    path("test-mw/notes/", notes),
    path("test-mw/form/", form_post),
    path("", include("eventplatform.urls")),
]


# --- a browser of sorts over the ASGI handler ----------------------------------------------


class Browser:
    """Sends requests to a fresh `ASGIHandler` and keeps cookies, as a browser would."""

    def __init__(self) -> None:
        self.app = ASGIHandler()
        self.cookies: dict[str, str] = {}

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> dict:
        sent = {"host": "127.0.0.1", **(headers or {})}
        if self.cookies:
            sent["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        communicator = HttpCommunicator(
            self.app, method, path, body, [(k.encode(), v.encode()) for k, v in sent.items()]
        )
        response = await communicator.get_response(timeout=30)
        # Let the handler finish the request (the response's close(), `request_finished`, which
        # closes the request thread's database connection) as it does under daphne.
        await communicator.wait(timeout=30)
        response["header"] = {}
        for name, value in response["headers"]:
            name, value = name.decode().lower(), value.decode("latin1")
            if name == "set-cookie":
                cookie = SimpleCookie(value)
                for key, morsel in cookie.items():
                    if morsel["max-age"] == "0":
                        self.cookies.pop(key, None)
                    else:
                        self.cookies[key] = morsel.value
            response["header"][name] = value
        return response

    async def post_form(self, path: str, fields: dict, headers: dict | None = None) -> dict:
        return await self.request(
            "POST", path, urlencode(fields).encode(),
            {"content-type": "application/x-www-form-urlencoded", **(headers or {})},
        )


class Calls:
    """Which middleware methods ran, and whether on the event loop's thread."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, bool]] = []
        self.loop_thread: int | None = None

    def start(self) -> None:
        """Called from the test's coroutine: its thread is the event loop's."""
        self.loop_thread = threading.get_ident()

    def off_loop(self) -> list[tuple[str, str]]:
        return [(cls, name) for cls, name, on_loop in self.recorded if not on_loop]


@pytest.fixture
def calls(monkeypatch) -> Calls:
    """Spies on every middleware method; patched before a handler is built, since the handler
    binds the methods when it loads the middleware."""
    calls = Calls()

    def spy(cls, name):
        original = getattr(cls, name)

        def recording(self, *args, **kwargs):
            calls.recorded.append((cls.__name__, name, threading.get_ident() == calls.loop_thread))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, recording)

    for cls in MIDDLEWARES:
        for name in ("process_request", "process_response"):
            if hasattr(cls, name):
                spy(cls, name)
    spy(http_middleware.DjangoCsrfViewMiddleware, "process_view")  # the loop path calls it by class
    return calls


pytestmark = pytest.mark.urls(__name__)


async def test_an_api_request_runs_every_middleware_method_on_the_loop(transactional_db, calls):
    calls.start()
    response = await Browser().request("GET", "/api/health/")
    assert response["status"] == 200
    names = {(cls, name) for cls, name, _ in calls.recorded}
    assert len(names) == 15  # 7 process_request, 7 process_response, CSRF's process_view
    assert calls.off_loop() == []


async def test_async_view_reads_the_lazy_user_without_a_thread_of_the_middleware(transactional_db, calls):
    calls.start()
    response = await Browser().request("GET", "/test-mw/whoami/")
    assert response["status"] == 200 and response["body"] == b'{"user": null}'
    assert calls.off_loop() == []


async def test_security_locale_and_frame_headers_are_set(transactional_db):
    response = await Browser().request("GET", "/api/health/", headers={"accept-language": "en"})
    header = response["header"]
    assert header["x-frame-options"] == "DENY"
    assert header["x-content-type-options"] == "nosniff"
    assert header["referrer-policy"] == "same-origin"
    assert header["content-language"] == "en"
    assert "Accept-Language" in header["vary"]
    german = await Browser().request("GET", "/api/health/", headers={"accept-language": "de"})
    assert german["header"]["content-language"] == "de"


async def test_common_middleware_still_redirects_to_the_slash_and_refuses_unknown_hosts(transactional_db):
    redirect = await Browser().request("GET", "/test-mw/whoami")
    assert redirect["status"] == 301 and redirect["header"]["location"] == "/test-mw/whoami/"
    refused = await Browser().request("GET", "/api/health/", headers={"host": "evil.example"})
    assert refused["status"] == 400


def _session_stored(key: str) -> bool:
    # In asgiref's shared thread, not a request's: close its connection, or PostgreSQL keeps
    # the test database open at the end of the run and cannot drop it.
    try:
        return Session.objects.filter(session_key=key).exists()
    finally:
        connection.close()


async def test_a_modified_session_is_saved_in_a_thread_and_persists(transactional_db, calls):
    browser = Browser()
    calls.start()
    saved = await browser.request("GET", "/test-mw/remember/?colour=teal")
    assert saved["status"] == 200 and "sessionid" in browser.cookies
    assert ("SessionMiddleware", "process_response") in calls.off_loop()
    assert await sync_to_async(_session_stored)(browser.cookies["sessionid"])
    calls.recorded.clear()
    read = await browser.request("GET", "/test-mw/recall/")
    assert read["body"] == b'{"colour": "teal"}'
    # Read, not modified: no save, so no thread for the session middleware.
    assert calls.off_loop() == []
    assert "Cookie" in read["header"]["vary"]


async def test_csrf_refuses_a_form_post_without_its_token_and_accepts_one_with_it(transactional_db, calls):
    browser = Browser()
    calls.start()
    refused = await browser.post_form("/test-mw/form/", {"a": "1"})
    assert refused["status"] == 403
    assert ("CsrfViewMiddleware", "process_view") in calls.off_loop()  # the check reads the body
    page = await browser.request("GET", "/admin/login/")  # sets the CSRF cookie
    assert page["status"] == 200 and "csrftoken" in browser.cookies
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page["body"]).group(1).decode()
    assert (await browser.post_form("/test-mw/form/", {"csrfmiddlewaretoken": token}))["status"] == 200
    # A wrong token or a foreign origin is still refused.
    assert (await browser.post_form("/test-mw/form/", {"csrfmiddlewaretoken": "x" * 64}))["status"] == 403
    foreign = await browser.post_form("/test-mw/form/", {"csrfmiddlewaretoken": token},
                                      {"origin": "https://evil.example"})
    assert foreign["status"] == 403


@pytest.fixture
def admin_user(transactional_db, django_user_model):
    return django_user_model.objects.create_user("mw-admin", password="secret-pass", is_staff=True, is_superuser=True)


async def test_admin_login_sets_a_session_that_the_next_request_uses(admin_user):
    browser = Browser()
    page = await browser.request("GET", "/admin/login/?next=/admin/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page["body"]).group(1).decode()
    login = await browser.post_form(
        "/admin/login/?next=/admin/",
        {"csrfmiddlewaretoken": token, "username": "mw-admin", "password": "secret-pass", "next": "/admin/"},
    )
    assert login["status"] == 302 and login["header"]["location"] == "/admin/"
    assert "sessionid" in browser.cookies
    admin = await browser.request("GET", "/admin/")
    assert admin["status"] == 200 and b"mw-admin" in admin["body"]
    assert (await browser.request("GET", "/test-mw/whoami/"))["body"] == b'{"user": "mw-admin"}'
    # Logging out empties the session: the cookie is deleted and the next request is anonymous.
    token = browser.cookies["csrftoken"]
    out = await browser.post_form("/admin/logout/", {"csrfmiddlewaretoken": token})
    assert out["status"] == 200 and "sessionid" not in browser.cookies
    assert (await browser.request("GET", "/test-mw/whoami/"))["body"] == b'{"user": null}'


async def test_a_message_survives_the_redirect(transactional_db, calls):
    browser = Browser()
    calls.start()
    redirect = await browser.request("GET", "/test-mw/note/")
    assert redirect["status"] == 302 and "messages" in browser.cookies
    assert ("MessageMiddleware", "process_response") in calls.off_loop()  # storing may use the session
    shown = await browser.request("GET", "/test-mw/notes/")
    assert shown["body"] == b'{"messages": ["Saved."]}'
    assert "messages" not in browser.cookies  # shown once, then cleared
