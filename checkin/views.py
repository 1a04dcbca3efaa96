"""Pages of check-in outside the browser app: the printable ticket, sign-up, and the desk's
PWA pieces (manifest and service worker), which must come from the server to get their scope."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from checkin import codes
from checkin.models import RegistrationSettings
from eventplatform.models import Event, Ticket


@require_GET
@never_cache
def printable_ticket(request: HttpRequest, secret: str) -> HttpResponse:
    """Ticket and badge for print (A4 with a cut-out badge); the secret in the link is the key."""
    ticket = Ticket.objects.select_related("participant__event").filter(secret=secret).first()
    if ticket is None:
        raise Http404
    code = codes.encode(ticket)
    participant = ticket.participant
    return render(request, "checkin/ticket_print.html", {
        "ticket": ticket, "participant": participant, "event": participant.event,
        "qr": codes.qr_svg(code, scale=5), "problem": ticket.problem(),
        "link": f"{settings.PUBLIC_URL}/t/{ticket.secret}/",
    })


@require_GET
def signup_page(request: HttpRequest, slug: str) -> HttpResponse:
    event = get_object_or_404(Event, slug=slug)
    rules = RegistrationSettings.objects.filter(event=event).first()
    return render(request, "checkin/signup.html", {"event": event, "open": bool(rules and rules.signup_open)})


@require_GET
def manifest(request: HttpRequest, slug: str) -> JsonResponse:
    event = get_object_or_404(Event, slug=slug)
    scope = f"/e/{event.slug}/staff"
    return JsonResponse({
        "name": _("Check-in · %(event)s") % {"event": event.title},
        "short_name": _("Check-in"),
        "start_url": scope,
        "scope": scope,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b3d91",
        "icons": [{"src": "/checkin/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
    }, content_type="application/manifest+json")


ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" '
    'fill="#0b3d91"/><path d="M16 33l10 10 22-22" stroke="#fff" stroke-width="7" fill="none" '
    'stroke-linecap="round" stroke-linejoin="round"/></svg>'
)


@require_GET
def icon(request: HttpRequest) -> HttpResponse:
    return HttpResponse(ICON, content_type="image/svg+xml")


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """Served from /checkin/ but allowed to control /e/…/staff (Service-Worker-Allowed)."""
    response = render(request, "checkin/desk-sw.js", {"static_url": settings.STATIC_URL},
                      content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/e/"
    response["Cache-Control"] = "no-cache"
    return response
