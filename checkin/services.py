"""Every state change of check-in: registration, tickets, desks, scans, offline sync, conflicts.

The scan rules live in `scan()` only; the HTTP API, offline sync and the benchmarks all go
through it (pretix keeps its rules in one service the same way).
"""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from checkin import codes, statements
from checkin.models import CheckinList, Conflict, Device, RegistrationSettings, Scan, SigningKey, TicketState
from eventplatform import services as core_services
from eventplatform.models import Event, Participant, Ticket

ANNUL_WINDOW = timedelta(seconds=getattr(settings, "CHECKIN_ANNUL_SECONDS", 120))


class CheckinError(Exception):
    """A refusal that is not a scan result (bad input, no permission); `code` is stable."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


# --- registration and tickets -------------------------------------------------------------


def register(
    event: Event, *, name: str, email: str, attendance: str, by: Participant | None = None, send_mail: bool = True
) -> Participant:
    """An organizer adds someone (by=organizer), or someone signs up (by=None, needs open sign-up)."""
    name, email = name.strip(), email.strip().lower()
    if not name or len(name) > 100:
        raise CheckinError("invalid_name", _("Please enter a name (at most 100 characters)."))
    if attendance not in Participant.Attendance.values:
        raise CheckinError("invalid_attendance", _("Choose on site or online."))
    if by is None:
        rules = RegistrationSettings.objects.filter(event=event).first()
        if rules is None or not rules.signup_open:
            raise CheckinError("signup_closed", _("Sign-up for this event is closed."), status=403)
        if not email:
            raise CheckinError("invalid_email", _("Please enter your e-mail address."))
        if Participant.objects.filter(event=event, email__iexact=email).exists():
            # No second ticket and no hint whether the address is registered: resend the first.
            existing = Participant.objects.filter(event=event, email__iexact=email).first()
            transaction.on_commit(lambda: send_ticket(existing))
            return existing
        if attendance == Participant.Attendance.ONSITE and rules.onsite_capacity is not None:
            onsite = Participant.objects.filter(event=event, attendance="onsite", is_removed=False).count()
            if onsite >= rules.onsite_capacity:
                raise CheckinError("onsite_full", _("All places on site are taken; you can still join online."))
    elif not (by.is_organizer and by.event_id == event.pk):
        raise CheckinError("forbidden", _("Only organizers can add participants."), status=403)
    with transaction.atomic():
        participant = core_services.register_participant(event, name=name, email=email, attendance=attendance)
        TicketState.objects.get_or_create(ticket=participant.ticket)
        codes.event_key(event)
        if send_mail and email:
            transaction.on_commit(lambda: send_ticket(participant))
    return participant


def reissue_ticket(ticket: Ticket) -> str:
    """A new code for a lost or passed-on ticket; the old code is refused from now on."""
    with transaction.atomic():
        state, _created = TicketState.objects.select_for_update().get_or_create(ticket=ticket)
        state.serial += 1
        state.reissued_at = timezone.now()
        state.save(update_fields=["serial", "reissued_at"])
    return codes.encode(ticket)


def revoke_ticket(ticket: Ticket) -> None:
    Ticket.objects.filter(pk=ticket.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def ticket_ics(participant: Participant) -> str:
    event = participant.event

    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")

    link = f"{settings.PUBLIC_URL}/t/{participant.ticket.secret}/"
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//eventplatform//checkin//EN", "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:event-{event.pk}-ticket-{participant.ticket.pk}@eventplatform",
        f"DTSTAMP:{stamp(timezone.now())}",
        f"DTSTART:{stamp(event.start)}",
        f"DTEND:{stamp(event.end)}",
        f"SUMMARY:{escape(event.title)}",
        f"LOCATION:{escape(event.venue_address.replace(chr(10), ', ') if participant.attendance == 'onsite' else link)}",
        f"URL:{link}",
        f"DESCRIPTION:{escape(_('Your ticket: %(link)s') % {'link': link})}",
        "END:VEVENT", "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"


def send_ticket(participant: Participant) -> None:
    """The ticket e-mail: QR code (inline image), the link for the online part, an .ics file."""
    if not participant.email:
        return
    from email.mime.image import MIMEImage

    ticket = participant.ticket
    code = codes.encode(ticket)
    language = (participant.event.language_list[:1] or [settings.LANGUAGE_CODE])[0]
    with translation.override(language):
        context = {
            "participant": participant, "event": participant.event, "code": code,
            "link": f"{settings.PUBLIC_URL}/t/{ticket.secret}/",
            "print_link": f"{settings.PUBLIC_URL}/checkin/ticket/{ticket.secret}/",
        }
        subject = _("Your ticket for %(event)s") % {"event": participant.event.title}
        text = render_to_string("checkin/ticket_email.txt", context)
        html = render_to_string("checkin/ticket_email.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [participant.email])
    message.attach_alternative(html, "text/html")
    message.mixed_subtype = "related"
    image = MIMEImage(codes.qr_png(code), "png")
    image.add_header("Content-ID", "<ticket-qr>")
    image.add_header("Content-Disposition", "inline", filename="ticket.png")
    message.attach(image)
    message.attach(f"{participant.event.slug}.ics", ticket_ics(participant), "text/calendar")
    message.send()


# --- desks --------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def provision_device(event: Event, *, name: str, by: Participant) -> tuple[Device, str]:
    """A new desk; the token is shown once and only its hash is kept."""
    if not (by.event_id == event.pk and (by.is_staff_member or by.is_organizer) and not by.is_removed):
        raise CheckinError("forbidden", _("Only on-site staff can set up a desk."), status=403)
    name = name.strip()[:100] or _("Desk")
    token = secrets.token_urlsafe(32)
    device = Device.objects.create(event=event, name=name, token_hash=_token_hash(token), created_by=by)
    return device, token


def device_for_token(token: str) -> Device | None:
    device = Device.objects.select_related("event").filter(token_hash=_token_hash(token)).first()
    if device is None or device.revoked_at is not None:
        return None
    return device


def device_and_list(token: str, list_id: int) -> tuple[Device | None, CheckinList | None]:
    """A scan's desk and list in one statement (read on every scan, so a revoked desk is refused
    at its very next one). The device's event carries only its id and slug; reading any other
    field of it costs a query."""
    found = statements.desk_and_list(_token_hash(token), list_id)
    if found is None or found[0].revoked_at is not None:
        return None, None
    return found


def revoke_device(device: Device, *, by: Participant) -> None:
    """Signs the desk out remotely: its next request gets 401 and it wipes its offline data."""
    if not (by.event_id == device.event_id and (by.is_staff_member or by.is_organizer)):
        raise CheckinError("forbidden", _("Only on-site staff can sign a desk out."), status=403)
    Device.objects.filter(pk=device.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def default_list(event: Event) -> CheckinList:
    """The event's first check-in list; made on first use, named in the event's language.

    Found by position, never by name: the name is translated, and a desk process answering in
    English and a back office in German must not each create their own "default" list.
    """
    existing = CheckinList.objects.filter(event=event).order_by("position", "id").first()
    if existing is not None:
        return existing
    with translation.override(event.language_list[0] if event.language_list else None):
        name = str(_("Main entrance"))
    checkin_list, _created = CheckinList.objects.get_or_create(
        event=event, name=name, defaults={"attendance": CheckinList.Attendance.ONSITE}
    )
    return checkin_list


# --- scans --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the desk shows: green (admitted), yellow (already_in), red (refused + reason)."""

    scan: Scan
    result: str
    reason: str = ""
    name: str = ""
    attendance: str = ""
    ticket_id: int | None = None
    previous: dict | None = None
    conflict: bool = False
    replayed: bool = False
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "scan_id": self.scan.pk, "result": self.result, "reason": self.reason, "name": self.name,
            "attendance": self.attendance, "ticket_id": self.ticket_id, "previous": self.previous,
            "conflict": self.conflict, "replayed": self.replayed,
            "scanned_at": self.scan.scanned_at.isoformat(), "direction": self.scan.direction,
        }


def _public_keys(event: Event) -> dict[int, bytes]:
    return {kid: bytes(pub) for kid, pub in SigningKey.objects.filter(event=event).values_list("kid", "public_key")}


def _outcome_of(scan: Scan, replayed: bool = False) -> Outcome:
    ticket = scan.ticket
    participant = ticket.participant if ticket else None
    previous = None
    if scan.result == Scan.Result.ALREADY_IN and ticket is not None:
        before = _last_counting(scan.checkin_list, ticket, before_id=scan.pk)
        previous = _describe(before) if before else None
    return Outcome(
        scan=scan, result=scan.result, reason=scan.reason, name=participant.name if participant else "",
        attendance=participant.attendance if participant else "", ticket_id=ticket.pk if ticket else None,
        previous=previous, replayed=replayed,
        conflict=Conflict.objects.filter(second_scan=scan).exists(),
    )


def _last_counting(
    checkin_list: CheckinList, ticket: Ticket, before_id: int | None = None, device: Device | None = None
) -> Scan | None:
    """The ticket's last admission (in or out) on the list that still counts. Only its id,
    direction, time and desk are read; its list is `checkin_list`, and if `device` made it, its
    desk is `device` — so describing it costs a query only for another desk's name."""
    last = statements.last_counting(checkin_list.pk, ticket.pk, before_id)
    if last is not None:
        last.checkin_list = checkin_list
        if device is not None and last.device_id == device.pk:
            last.device = device
    return last


def _describe(scan: Scan) -> dict:
    return {
        "scanned_at": scan.scanned_at.isoformat(), "list": scan.checkin_list.name,
        "device": scan.device.name if scan.device else "", "direction": scan.direction, "offline": scan.offline,
    }


def scan(
    event: Event,
    checkin_list: CheckinList,
    code: str,
    *,
    direction: str = Scan.Direction.ENTRY,
    device: Device | None = None,
    staff: Participant | None = None,
    retry_id: str | None = None,
    scanned_at: datetime | None = None,
    offline_admitted: bool | None = None,
) -> Outcome:
    """Check one code in (or out). Every call writes exactly one Scan row, refused ones too,
    except a repeated retry id, which returns the first row's outcome unchanged."""
    if checkin_list.event_id != event.pk:
        raise CheckinError("unknown_list", _("This check-in list belongs to another event."), status=404)
    if direction not in Scan.Direction.values:
        raise CheckinError("invalid_direction", _("Direction must be entry or exit."))
    if retry_id is not None and not (0 < len(retry_id) <= 64):
        raise CheckinError("invalid_retry_id", _("The retry id must have 1 to 64 characters."))
    now = timezone.now()
    moment = min(scanned_at, now) if scanned_at else now
    code = (code or "").strip()
    row = dict(
        event=event, checkin_list=checkin_list, device=device, staff=staff, direction=direction,
        raw_code=code[:200], retry_id=retry_id or None, scanned_at=moment, offline=scanned_at is not None,
    )
    try:
        with transaction.atomic():
            return _scan_locked(event, checkin_list, code, row, moment, offline_admitted)
    except IntegrityError:
        # The retry id is taken: a repeated request (the desk did not get the answer), or the
        # same one twice at once. Nothing of this attempt was written; answer with the first
        # row. A repeat is rare, so it is found by its failing insert (the unique retry id)
        # instead of a look-up before every scan.
        if not retry_id:
            raise
        first = Scan.objects.filter(retry_id=retry_id).select_related("ticket__participant", "checkin_list").first()
        if first is None:
            raise
        return _replayed(first, event)


def _replayed(first: Scan, event: Event) -> Outcome:
    if first.event_id != event.pk:
        raise CheckinError("retry_id_reused", _("This retry id was used for another event."), status=409)
    return _outcome_of(first, replayed=True)


def _record(row: dict, **fields) -> Scan:
    return Scan.objects.create(**row, **fields)


def _refuse(row: dict, reason: str, ticket: Ticket | None = None) -> Outcome:
    scan_row = _record(row, ticket=ticket, result=Scan.Result.REFUSED, reason=reason)
    participant = ticket.participant if ticket else None
    return Outcome(
        scan=scan_row, result=Scan.Result.REFUSED, reason=reason, ticket_id=ticket.pk if ticket else None,
        name=participant.name if participant else "", attendance=participant.attendance if participant else "",
    )


_KEY_CACHE: dict[int, tuple[float, int, bytes]] = {}
_KEY_CACHE_SECONDS = 60.0


def _key_for(kid: int) -> tuple[int, bytes] | None:
    """(event id, public key) of a key id. Keys never change once made, so a process keeps
    them for a minute instead of reading them for every scan (retiring a key takes that long)."""
    import time

    cached = _KEY_CACHE.get(kid)
    if cached and time.monotonic() - cached[0] < _KEY_CACHE_SECONDS:
        return cached[1], cached[2]
    key = SigningKey.objects.filter(kid=kid, retired_at__isnull=True).values_list("event_id", "public_key").first()
    if key is None:
        return None
    _KEY_CACHE[kid] = (time.monotonic(), key[0], bytes(key[1]))
    return key[0], bytes(key[1])


def _locked_state(ticket_id: int, event: Event) -> TicketState | None:
    """The ticket's check-in state, locked, with the ticket and participant in the same query."""
    state = statements.locked_ticket(ticket_id, event.pk)
    if state is None and Ticket.objects.filter(pk=ticket_id, participant__event=event).exists():
        TicketState.objects.get_or_create(ticket_id=ticket_id)  # a ticket from before check-in existed
        state = statements.locked_ticket(ticket_id, event.pk)
    return state


def _scan_locked(event, checkin_list, code, row, moment, offline_admitted) -> Outcome:
    kid = codes.kid_of(code)
    key = _key_for(kid) if kid is not None else None
    if key is not None and key[0] != event.pk:
        try:  # genuine, but for another event
            codes.decode(code, {kid: key[1]})
            return _refuse(row, "wrong_event")
        except codes.CodeError:
            return _refuse(row, "forged")
    try:
        parsed = codes.decode(code, {kid: key[1]} if key else {})
    except codes.CodeError as refusal:
        return _refuse(row, "forged" if refusal.reason in ("forged", "unknown_key") else "malformed")
    if parsed.event_id != event.pk:
        return _refuse(row, "wrong_event")
    # The one lock of a scan: every desk scanning this ticket waits here for the one before it.
    state = _locked_state(parsed.ticket_id, event)
    if state is None:
        return _refuse(row, "unknown_ticket")
    ticket = state.ticket
    if parsed.serial != (state.serial & 0xFFFF):
        return _refuse(row, "ticket_reissued", ticket)
    problem = ticket.problem(now=moment)
    if problem:
        return _refuse(row, {"ticket_revoked": "revoked", "ticket_expired": "expired",
                             "ticket_not_yet_valid": "not_yet_valid"}.get(problem, problem), ticket)
    if parsed.valid_from and moment.timestamp() < parsed.valid_from:
        return _refuse(row, "not_yet_valid", ticket)
    if parsed.valid_until and moment.timestamp() > parsed.valid_until:
        return _refuse(row, "expired", ticket)
    participant = ticket.participant
    if checkin_list.attendance != CheckinList.Attendance.ANY and participant.attendance != checkin_list.attendance:
        return _refuse(row, "wrong_attendance", ticket)
    if checkin_list.opens_at and moment < checkin_list.opens_at:
        return _refuse(row, "list_not_open", ticket)
    if checkin_list.closes_at and moment > checkin_list.closes_at:
        return _refuse(row, "list_closed", ticket)
    last = _last_counting(checkin_list, ticket, device=row["device"])
    if row["direction"] == Scan.Direction.EXIT:
        if not checkin_list.allow_exit:
            return _refuse(row, "exit_not_allowed", ticket)
        scan_row = _record(row, ticket=ticket, result=Scan.Result.ADMITTED)
        return Outcome(scan=scan_row, result=Scan.Result.ADMITTED, name=participant.name,
                       attendance=participant.attendance, ticket_id=ticket.pk)
    if last is not None and last.direction == Scan.Direction.ENTRY:
        if offline_admitted:
            # A desk without network already let this person in: it happened, so record the
            # admission, and put the collision in front of staff instead of hiding it.
            scan_row = _record(row, ticket=ticket, result=Scan.Result.ADMITTED, reason="conflict")
            Conflict.objects.create(event=event, ticket=ticket, first_scan=last, second_scan=scan_row)
            return Outcome(scan=scan_row, result=Scan.Result.ADMITTED, reason="conflict", name=participant.name,
                           attendance=participant.attendance, ticket_id=ticket.pk, previous=_describe(last),
                           conflict=True)
        scan_row = _record(row, ticket=ticket, result=Scan.Result.ALREADY_IN, reason="already_in")
        return Outcome(scan=scan_row, result=Scan.Result.ALREADY_IN, reason="already_in", name=participant.name,
                       attendance=participant.attendance, ticket_id=ticket.pk, previous=_describe(last))
    if last is not None and last.direction == Scan.Direction.EXIT and not checkin_list.allow_reentry:
        return _refuse(row, "no_reentry", ticket)
    scan_row = _record(row, ticket=ticket, result=Scan.Result.ADMITTED)
    return Outcome(scan=scan_row, result=Scan.Result.ADMITTED, name=participant.name,
                   attendance=participant.attendance, ticket_id=ticket.pk)


def scan_ticket_id(event: Event, checkin_list: CheckinList, ticket_id: int, **kwargs) -> Outcome:
    """Check in someone found by search (no code at hand): the same rules, via their code."""
    ticket = Ticket.objects.select_related("participant").filter(pk=ticket_id, participant__event=event).first()
    if ticket is None:
        raise CheckinError("unknown_ticket", _("No such ticket."), status=404)
    return scan(event, checkin_list, codes.encode(ticket), **kwargs)


def annul(scan_row: Scan, *, device: Device | None, staff: Participant | None) -> Scan:
    """Undo a mistaken admission shortly after it happened (the row stays, marked annulled)."""
    if scan_row.result != Scan.Result.ADMITTED or scan_row.annulled_at is not None:
        raise CheckinError("not_annullable", _("Only an admission can be annulled, and only once."), status=409)
    if timezone.now() - scan_row.received_at > ANNUL_WINDOW:
        raise CheckinError("annul_too_late", _("This scan is too old to be annulled."), status=409)
    if device is not None and scan_row.device_id not in (None, device.pk):
        raise CheckinError("forbidden", _("Only the desk that scanned can annul this scan."), status=403)
    with transaction.atomic():
        TicketState.objects.select_for_update().filter(ticket_id=scan_row.ticket_id).first()
        Scan.objects.filter(pk=scan_row.pk, annulled_at__isnull=True).update(annulled_at=timezone.now())
    scan_row.refresh_from_db()
    return scan_row


def sync(event: Event, device: Device | None, staff: Participant | None, queued: list[dict]) -> list[dict]:
    """Scans a desk made offline, in the order they happened; each through `scan()`."""
    lists = {cl.pk: cl for cl in CheckinList.objects.filter(event=event)}
    results = []
    for item in sorted(queued, key=lambda q: q["scanned_at"]):
        checkin_list = lists.get(item["list_id"])
        if checkin_list is None:
            results.append({"retry_id": item["retry_id"], "error": "unknown_list"})
            continue
        code = item.get("code") or ""
        if not code and item.get("ticket_id"):
            ticket = Ticket.objects.filter(pk=item["ticket_id"], participant__event=event).first()
            code = codes.encode(ticket) if ticket else ""
        try:
            outcome = scan(
                event, checkin_list, code, direction=item["direction"], device=device, staff=staff,
                retry_id=item["retry_id"], scanned_at=item["scanned_at"], offline_admitted=item["admitted"],
            )
        except CheckinError as refusal:
            results.append({"retry_id": item["retry_id"], "error": refusal.code})
            continue
        results.append({"retry_id": item["retry_id"], **outcome.as_dict()})
    return results


def resolve_conflict(conflict: Conflict, *, by: Participant, note: str = "") -> None:
    Conflict.objects.filter(pk=conflict.pk, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=by, note=note[:200]
    )
