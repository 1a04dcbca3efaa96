"""The core's HTTP API (django-ninja, documented at /api/docs)."""

from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Router

from eventplatform import selectors
from eventplatform.models import Event, Participant
from eventplatform.schemas import AgendaOut, EventOut

router = Router(tags=["events"])


def _may_read(request, event: Event) -> bool:
    if event.is_public:
        return True
    user = request.user
    return user.is_authenticated and Participant.objects.filter(event=event, user=user, is_removed=False).exists()


@router.get("/events/{slug}/", response={200: EventOut, 404: dict})
def event_detail(request, slug: str):
    event = get_object_or_404(Event, slug=slug)
    if not _may_read(request, event):
        return 404, {"detail": "Not found."}
    return selectors.event_public(event)


@router.get("/events/{slug}/agenda/", response={200: AgendaOut, 404: dict})
def event_agenda(request, slug: str):
    event = get_object_or_404(Event, slug=slug)
    if not _may_read(request, event):
        return 404, {"detail": "Not found."}
    return selectors.agenda(event.pk)


@router.get("/health/", auth=None)
def health(request):
    return {"ok": True}


api = NinjaAPI(title="eventplatform", version="1", urls_namespace="api")
api.add_router("/", router)
api.add_router("/checkin/", "checkin.api.router")  # the check-in app (issue 7)
