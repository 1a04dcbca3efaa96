"""HTTP views of the barcamp: the public schedule page, the exports and the calendars."""

from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from barcamp import exports, selectors
from barcamp.models import CalendarFeed, Release
from eventplatform.models import Event, Participant, Session

ICAL = "text/calendar; charset=utf-8"


def _readable_event(request: HttpRequest, slug: str) -> Event:
    """Public events for everyone; others only for their participants (else: not found)."""
    event = get_object_or_404(Event, slug=slug)
    if event.is_public:
        return event
    user = request.user
    if user.is_authenticated and Participant.objects.filter(event=event, user=user, is_removed=False).exists():
        return event
    raise Http404


def _base_url(request: HttpRequest, event: Event) -> str:
    return request.build_absolute_uri(f"/e/{event.slug}").rstrip("/")


def _page_url(request: HttpRequest, event: Event) -> str:
    return request.build_absolute_uri(reverse("barcamp-schedule", kwargs={"slug": event.slug}))


def _version(event: Event) -> str:
    camp = selectors.camp_settings(event.pk)
    return f"{camp.releases}.{event.agenda_version}"


@require_GET
def schedule_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The schedule as a web page: by time, with rooms; links to every export."""
    event = _readable_event(request, slug)
    sessions = exports.sessions_of(event)
    rows: list[dict] = []
    for s in sessions:
        if rows and rows[-1]["start"] == s.start:
            rows[-1]["sessions"].append(s)
        else:
            rows.append({"start": s.start, "sessions": [s]})
    latest = Release.objects.filter(event=event).first()
    context = {
        "event": event,
        "rows": rows,
        "latest": latest,
        "links": {
            "ical": reverse("barcamp-ical", kwargs={"slug": slug}),
            "xml": reverse("barcamp-schedule-xml", kwargs={"slug": slug}),
            "json": reverse("barcamp-schedule-json", kwargs={"slug": slug}),
        },
    }
    return render(request, "barcamp/schedule.html", context)


@require_GET
def event_ical(request: HttpRequest, slug: str) -> HttpResponse:
    event = _readable_event(request, slug)
    body = exports.ical(event.title, exports.sessions_of(event), _base_url(request, event), _page_url(request, event))
    return HttpResponse(body, content_type=ICAL)


@require_GET
def my_ical(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """A person's sessions (starred, and the ones they host), behind a private link."""
    feed = get_object_or_404(CalendarFeed.objects.select_related("participant__event"), token=token)
    participant = feed.participant
    if participant.event.slug != slug or participant.is_removed:
        raise Http404
    event = participant.event
    starred = {s.pk for s in selectors.starred_sessions(participant.pk)}
    hosting = set(Session.objects.filter(event=event, speakers=participant).values_list("pk", flat=True))
    sessions = [s for s in exports.sessions_of(event) if s.pk in starred | hosting]
    title = _("My sessions at %(event)s") % {"event": event.title}
    body = exports.ical(title, sessions, _base_url(request, event), _page_url(request, event))
    return HttpResponse(body, content_type=ICAL)


@require_GET
def schedule_xml(request: HttpRequest, slug: str) -> HttpResponse:
    event = _readable_event(request, slug)
    body = exports.schedule_xml(event, _base_url(request, event), _page_url(request, event), _version(event))
    return HttpResponse(body, content_type="application/xml; charset=utf-8")


@require_GET
def schedule_json(request: HttpRequest, slug: str) -> HttpResponse:
    event = _readable_event(request, slug)
    body = exports.schedule_json(event, _base_url(request, event), _page_url(request, event), _version(event))
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})


def _organizer_events(username: str) -> tuple[object, list[Event]]:
    user = get_object_or_404(get_user_model(), username=username)
    events = list(
        Event.objects.filter(is_public=True, participants__user=user, participants__is_organizer=True)
        .distinct()
        .order_by("start")
    )
    if not events:
        raise Http404
    return user, events


@require_GET
def organizer_calendar(request: HttpRequest, username: str) -> HttpResponse:
    """Every public event an organizer runs, as a page with an iCal feed."""
    user, events = _organizer_events(username)
    return render(
        request,
        "barcamp/calendar.html",
        {
            "organizer": user.get_full_name() or user.get_username(),
            "events": events,
            "ical": reverse("barcamp-organizer-ical", kwargs={"username": username}),
        },
    )


@require_GET
def organizer_ical(request: HttpRequest, username: str) -> HttpResponse:
    user, events = _organizer_events(username)
    title = _("Events of %(organizer)s") % {"organizer": user.get_full_name() or user.get_username()}
    body = exports.event_calendar_ical(
        title, events, lambda e: request.build_absolute_uri(reverse("barcamp-schedule", kwargs={"slug": e.slug}))
    )
    return HttpResponse(body, content_type=ICAL)

