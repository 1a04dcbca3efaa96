"""Django's HTTP middlewares, able to run on daphne's event loop.

Django's own middlewares are `MiddlewareMixin` classes: under ASGI each of their
`process_request`/`process_response` calls (and CSRF's `process_view`) is sent to a thread with
`sync_to_async(thread_sensitive=True)` — 15 of the 17 hops between the event loop and a
thread that Django makes per request, 0.17–0.26 ms of CPU each on the 2-core machine
(docs/benchmarks.md, "Check-in"). What these methods do is cheap: read a cookie or a
header, set a header, put a lazy object on the request. So the subclasses below run them on the
loop and go to a thread only where Django would touch the database or block:

- sessions: loading is lazy (the view loads it, in its thread). Saving a modified session in
  `process_response` writes to the database: that response alone goes to the thread.
- authentication: `request.user` stays a lazy object; it is evaluated by the view, in the view's
  thread. Evaluated on the loop it would raise `SynchronousOnlyOperation` (Django's guard), so
  a mistake here fails loudly rather than blocking the loop.
- CSRF: reading the cookie and letting safe methods and exempt views pass stay on the loop;
  checking a token on a form POST (which parses the body, may spill an upload to disk, and
  renders the failure page when it refuses) goes to the thread, as does everything when
  `CSRF_USE_SESSIONS` keeps the secret in the database-backed session.
- messages: stored messages may live in the session; a response that has messages to store
  goes to the thread.

The thread, where one is needed, is the same one Django would have used (the request's
thread-sensitive thread, where a sync view runs), so a session saved after a sync view still
shares its database connection. Under WSGI and Django's sync test client the classes behave
exactly as Django's: only the async path (`__acall__`) differs. docs/decisions/0003 says why
subclasses and not a framework of our own.
"""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware as DjangoXFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.middleware.security import SecurityMiddleware as DjangoSecurityMiddleware

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")  # the ones Django's CSRF check lets through


class OnLoop:
    """Mixin for a `MiddlewareMixin` subclass: on the async path, call `process_request` and
    `process_response` directly on the event loop unless the subclass says a call needs the
    request's thread. Placed before the Django class so its `__acall__` wins."""

    def request_needs_thread(self, request) -> bool:
        return False

    def response_needs_thread(self, request, response) -> bool:
        return False

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            if self.request_needs_thread(request):
                response = await sync_to_async(self.process_request, thread_sensitive=True)(request)
            else:
                response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(OnLoop, DjangoSecurityMiddleware):
    """HTTPS redirect and security headers: settings and headers only."""


class SessionMiddleware(OnLoop, DjangoSessionMiddleware):
    """Creating the session store reads nothing; only a save needs the database."""

    def response_needs_thread(self, request, response) -> bool:
        session = getattr(request, "session", None)
        if session is None:
            return False
        # The condition under which Django's process_response calls save() (and reads the
        # session's expiry, which loads it). Flags only: checking them loads nothing.
        return (session.modified or settings.SESSION_SAVE_EVERY_REQUEST) and not session.is_empty()


class LocaleMiddleware(OnLoop, DjangoLocaleMiddleware):
    """Language from path, cookie or Accept-Language; `translation.activate` sets a
    context-local value that sync_to_async carries into the view's thread and back."""


class CommonMiddleware(OnLoop, DjangoCommonMiddleware):
    """Host check, APPEND_SLASH (resolves URLs in memory), Content-Length."""


class CsrfViewMiddleware(OnLoop, DjangoCsrfViewMiddleware):
    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:
            # Django adapts process_view by what it is: a coroutine function is awaited on the
            # loop, a plain one is sent to a thread. Only the async path gets the coroutine.
            self.process_view = self._process_view_on_loop

    def request_needs_thread(self, request) -> bool:
        return settings.CSRF_USE_SESSIONS

    def response_needs_thread(self, request, response) -> bool:
        return settings.CSRF_USE_SESSIONS

    async def _process_view_on_loop(self, request, callback, callback_args, callback_kwargs):
        passes_unchecked = (
            getattr(request, "csrf_processing_done", False)
            or getattr(callback, "csrf_exempt", False)
            or request.method in SAFE_METHODS
            or getattr(request, "_dont_enforce_csrf_checks", False)
        )
        if passes_unchecked:
            # Django's method takes one of its first four exits here, reading neither the body
            # nor the session.
            return DjangoCsrfViewMiddleware.process_view(self, request, callback, callback_args, callback_kwargs)
        return await sync_to_async(DjangoCsrfViewMiddleware.process_view, thread_sensitive=True)(
            self, request, callback, callback_args, callback_kwargs
        )


class AuthenticationMiddleware(OnLoop, DjangoAuthenticationMiddleware):
    """Puts a lazy `request.user` on the request; nothing is read until a view asks."""


class MessageMiddleware(OnLoop, DjangoMessageMiddleware):
    def response_needs_thread(self, request, response) -> bool:
        storage = getattr(request, "_messages", None)
        # Storing (or clearing) messages may read and write the session; a request that neither
        # showed nor added a message leaves the storage alone.
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(OnLoop, DjangoXFrameOptionsMiddleware):
    """One response header."""
