"""HTTP pages of the core: ticket links and the browser app's shell."""

from django.conf import settings
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from eventplatform import services
from eventplatform.models import Event
from eventplatform.realtime.envelope import GatewayError


@require_GET
@never_cache
def ticket_link(request: HttpRequest, secret: str) -> HttpResponse:
    """The link in a ticket e-mail: logs the participant in and opens their event."""
    try:
        participant = services.ticket_login(secret)
    except GatewayError as refusal:
        status = 404 if refusal.code == "ticket_invalid" else 403
        return render(request, "eventplatform/ticket_refused.html", {"message": refusal.message}, status=status)
    login(request, participant.user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("event-app", slug=participant.event.slug)


@require_GET
@never_cache  # the shell names the current asset hashes; the assets themselves are immutable
def event_app(request: HttpRequest, slug: str, view: str = "") -> HttpResponse:
    """Every route under /e/<slug>/ is the browser app; it talks to /ws/events/<slug>/."""
    get_object_or_404(Event, slug=slug)
    index = settings.FRONTEND_DIST / "index.html"
    if not index.exists():
        raise Http404("The browser app is not built yet: run `make build`.")
    return HttpResponse(index.read_text(encoding="utf-8"), content_type="text/html; charset=utf-8")


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    events = Event.objects.filter(is_public=True).order_by("start")
    return render(request, "eventplatform/home.html", {"events": events})
