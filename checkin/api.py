"""The check-in HTTP API under /api/checkin/ (desks, registration, tickets).

Who may call it: a provisioned desk (`Authorization: Bearer <device token>`) or a logged-in
member of the event's staff (or an organizer). Nothing → 401; a revoked desk token → 401 (the
desk wipes its data and asks to be set up again); a logged-in attendee → 403.
"""

from datetime import timedelta

from asgiref.sync import sync_to_async
from django.core.validators import validate_email
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router
from ninja.errors import HttpError

from checkin import selectors, services
from checkin.models import CheckinList, Conflict, Device, RegistrationSettings, Scan
from checkin.schemas import (
    DeviceIn, RegistrationIn, RegistrationSettingsIn, ResolveIn, ScanIn, SignupIn, SyncIn,
)
from eventplatform.models import Event, Participant, Ticket

router = Router(tags=["checkin"])


class Desk:
    """Who is calling: a device, a staff member, or both (staff using a provisioned desk);
    with the check-in list the request names, if it names one."""

    def __init__(
        self, event: Event, device: Device | None, staff: Participant | None, checkin_list: CheckinList | None = None
    ) -> None:
        self.event, self.device, self.staff, self.checkin_list = event, device, staff, checkin_list


def _member(request, event: Event) -> Participant | None:
    user = request.user
    if not user.is_authenticated:
        return None
    return Participant.objects.filter(event=event, user=user, is_removed=False).first()


def _csrf_ok(request) -> bool:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return True
    return CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is None


LAST_SEEN_EVERY = timedelta(seconds=60)


def desk(request, slug: str, *, session_only: bool = False, list_id: int | None = None) -> Desk:
    """Who is calling (401/403 otherwise). With `list_id`, also the event's check-in list (404
    otherwise); a desk token then reads device, event and list in one statement — the scan's
    path, where the event's other fields are not needed (`services.device_and_list`)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and not session_only:
        token = header[7:].strip()
        if list_id is None:
            device, checkin_list = services.device_for_token(token), None
        else:
            device, checkin_list = services.device_and_list(token, list_id)
        if device is None or device.event.slug != slug:
            get_object_or_404(Event, slug=slug)
            raise HttpError(401, "device_signed_out")
        now = timezone.now()
        if device.last_seen is None or now - device.last_seen > LAST_SEEN_EVERY:  # not a write per scan
            Device.objects.filter(pk=device.pk).update(last_seen=now)
        if list_id is not None and checkin_list is None:
            raise HttpError(404, "unknown_list")
        return Desk(device.event, device, None, checkin_list)
    event = get_object_or_404(Event, slug=slug)
    member = _member(request, event)
    if member is None:
        raise HttpError(401, "login_required")
    if not (member.is_staff_member or member.is_organizer):
        raise HttpError(403, "staff_only")
    if not _csrf_ok(request):
        raise HttpError(403, "csrf_failed")
    return Desk(event, None, member, _list(event, list_id) if list_id is not None else None)


def organizer(request, slug: str) -> tuple[Event, Participant]:
    event = get_object_or_404(Event, slug=slug)
    member = _member(request, event)
    if member is None:
        raise HttpError(401, "login_required")
    if not member.is_organizer:
        raise HttpError(403, "organizers_only")
    if not _csrf_ok(request):
        raise HttpError(403, "csrf_failed")
    return event, member


def _refusal(error: services.CheckinError):
    return error.status, {"code": error.code, "message": error.message}


def _list(event: Event, list_id: int) -> CheckinList:
    checkin_list = CheckinList.objects.filter(event=event, pk=list_id).first()
    if checkin_list is None:
        raise HttpError(404, "unknown_list")
    return checkin_list


@router.get("/e/{slug}/me")
def me(request, slug: str):
    """Who the desk is; also sets the CSRF cookie a staff browser needs for its first POST."""
    who = desk(request, slug)
    get_token(request)
    services.default_list(who.event)
    return {
        "event": {"id": who.event.pk, "slug": who.event.slug, "title": who.event.title},
        "device": {"id": who.device.pk, "name": who.device.name} if who.device else None,
        "staff": {"id": who.staff.pk, "name": who.staff.name, "organizer": who.staff.is_organizer} if who.staff else None,
        "lists": selectors.lists(who.event),
    }


@router.post("/e/{slug}/devices", response={201: dict, 400: dict, 403: dict})
def provision_device(request, slug: str, body: DeviceIn):
    who = desk(request, slug, session_only=True)
    try:
        device, token = services.provision_device(who.event, name=body.name, by=who.staff)
    except services.CheckinError as error:
        return _refusal(error)
    return 201, {"id": device.pk, "name": device.name, "token": token}


@router.get("/e/{slug}/devices")
def list_devices(request, slug: str):
    who = desk(request, slug, session_only=True)
    return [
        {"id": d.pk, "name": d.name, "created": d.created.isoformat(),
         "last_seen": d.last_seen.isoformat() if d.last_seen else None,
         "revoked_at": d.revoked_at.isoformat() if d.revoked_at else None}
        for d in Device.objects.filter(event=who.event).order_by("-created")
    ]


@router.post("/e/{slug}/devices/{device_id}/revoke", response={200: dict, 403: dict})
def revoke_device(request, slug: str, device_id: int):
    who = desk(request, slug, session_only=True)
    device = get_object_or_404(Device, pk=device_id, event=who.event)
    try:
        services.revoke_device(device, by=who.staff)
    except services.CheckinError as error:
        return _refusal(error)
    return {"ok": True}


@router.post("/e/{slug}/scan", response={200: dict, 400: dict, 404: dict, 409: dict})
async def scan(request, slug: str, body: ScanIn):
    # In the event loop's shared worker threads, not in a thread of the request's own: Django's
    # ASGI handler gives every request a new thread for its thread-sensitive work, and Django's
    # database connections belong to a thread, so a sync view here would open a new database
    # connection for every scan. The shared threads keep theirs (CONN_MAX_AGE) and serve several
    # desks at once; each scan still takes its own row lock, which is what keeps two desks from
    # both admitting.
    return await sync_to_async(_scan, thread_sensitive=False)(request, slug, body)


def _scan(request, slug: str, body: ScanIn):
    who = desk(request, slug, list_id=body.list_id)
    checkin_list = who.checkin_list
    kwargs = dict(direction=body.direction, device=who.device, staff=who.staff, retry_id=body.retry_id)
    try:
        if body.code is not None:
            outcome = services.scan(who.event, checkin_list, body.code, **kwargs)
        elif body.ticket_id is not None:
            outcome = services.scan_ticket_id(who.event, checkin_list, body.ticket_id, **kwargs)
        else:
            return 400, {"code": "code_missing", "message": _("Send a code or a ticket id.")}
    except services.CheckinError as error:
        return _refusal(error)
    return outcome.as_dict()


@router.post("/e/{slug}/scans/{scan_id}/annul", response={200: dict, 403: dict, 409: dict})
def annul(request, slug: str, scan_id: int):
    who = desk(request, slug)
    scan_row = get_object_or_404(Scan, pk=scan_id, event=who.event)
    try:
        scan_row = services.annul(scan_row, device=who.device, staff=who.staff)
    except services.CheckinError as error:
        return _refusal(error)
    return {"scan_id": scan_row.pk, "annulled_at": scan_row.annulled_at.isoformat()}


@router.get("/e/{slug}/search")
def search(request, slug: str, q: str = ""):
    who = desk(request, slug)
    return selectors.search(who.event, q[:100])


@router.get("/e/{slug}/bundle")
def bundle(request, slug: str):
    """The offline data, gzip-compressed (sent as such; browsers decompress transparently)."""
    who = desk(request, slug)
    body = selectors.offline_bundle_gzip(who.event)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Encoding"] = "gzip"
    response["Cache-Control"] = "no-store"
    return response


@router.post("/e/{slug}/sync", response={200: dict})
def sync(request, slug: str, body: SyncIn):
    who = desk(request, slug)
    results = services.sync(who.event, who.device, who.staff, [item.model_dump() for item in body.scans])
    return {"results": results, "conflicts": selectors.conflicts(who.event)}


@router.get("/e/{slug}/counts")
def counts(request, slug: str):
    who = desk(request, slug)
    figures = selectors.counts(who.event)
    try:
        figures.update(selectors.online_now(who.event))
    except Exception:  # Redis away: the door still works, the online figure is unknown
        figures.update({"online": None, "rooms_online": {}})
    figures["rooms"] = [{"id": r.pk, "name": r.name} for r in who.event.rooms.all()]
    return figures


@router.get("/e/{slug}/conflicts")
def conflicts(request, slug: str, resolved: bool = False):
    who = desk(request, slug)
    return selectors.conflicts(who.event, include_resolved=resolved)


@router.post("/e/{slug}/conflicts/{conflict_id}/resolve", response={200: dict, 403: dict})
def resolve(request, slug: str, conflict_id: int, body: ResolveIn):
    who = desk(request, slug, session_only=True)
    conflict = get_object_or_404(Conflict, pk=conflict_id, event=who.event)
    services.resolve_conflict(conflict, by=who.staff, note=body.note)
    return {"ok": True}


# --- registration (organizers; free sign-up) ---------------------------------------------


def _valid_email(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


@router.post("/e/{slug}/registrations", response={201: dict, 400: dict, 403: dict})
def add_participant(request, slug: str, body: RegistrationIn):
    event, member = organizer(request, slug)
    if body.email and not _valid_email(body.email):
        return 400, {"code": "invalid_email", "message": _("This e-mail address is not valid.")}
    try:
        participant = services.register(event, name=body.name, email=body.email, attendance=body.attendance,
                                        by=member, send_mail=body.send_mail)
    except services.CheckinError as error:
        return _refusal(error)
    return 201, {"participant_id": participant.pk, "ticket_id": participant.ticket.pk}


@router.put("/e/{slug}/registration-settings")
def registration_settings(request, slug: str, body: RegistrationSettingsIn):
    event, _member = organizer(request, slug)
    RegistrationSettings.objects.update_or_create(
        event=event, defaults={"signup_open": body.signup_open, "onsite_capacity": body.onsite_capacity}
    )
    return {"signup_open": body.signup_open, "onsite_capacity": body.onsite_capacity}


@router.post("/e/{slug}/signup", auth=None, response={202: dict, 400: dict, 403: dict, 404: dict})
def signup(request, slug: str, body: SignupIn):
    """Free sign-up. The answer is the same whether the address was new or known (the ticket
    goes to the mailbox either way), so the form cannot be used to probe who registered."""
    event = get_object_or_404(Event, slug=slug)
    if not _valid_email(body.email):
        return 400, {"code": "invalid_email", "message": _("This e-mail address is not valid.")}
    try:
        services.register(event, name=body.name, email=body.email, attendance=body.attendance)
    except services.CheckinError as error:
        return _refusal(error)
    return 202, {"message": _("Thank you! Your ticket is on its way to your mailbox.")}


@router.post("/e/{slug}/tickets/{ticket_id}/reissue")
def reissue(request, slug: str, ticket_id: int):
    event, _member = organizer(request, slug)
    ticket = get_object_or_404(Ticket, pk=ticket_id, participant__event=event)
    services.reissue_ticket(ticket)
    services.send_ticket(ticket.participant)
    return {"ok": True}


@router.post("/e/{slug}/tickets/{ticket_id}/revoke")
def revoke(request, slug: str, ticket_id: int):
    event, _member = organizer(request, slug)
    ticket = get_object_or_404(Ticket, pk=ticket_id, participant__event=event)
    services.revoke_ticket(ticket)
    return {"ok": True}
