"""Reads for the desk: the offline bundle, search, live counts, conflicts, the scan log."""

import base64
import gzip
import json
from collections import Counter

from django.db.models import Q
from django.utils import timezone

from checkin.models import CheckinList, Conflict, Scan, SigningKey, TicketState
from eventplatform.models import Event, Ticket

SEARCH_LIMIT = 20


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def lists(event: Event) -> list[dict]:
    return [
        {
            "id": cl.pk, "name": cl.name, "room_id": cl.room_id, "attendance": cl.attendance,
            "opens_at": cl.opens_at.isoformat() if cl.opens_at else None,
            "closes_at": cl.closes_at.isoformat() if cl.closes_at else None,
            "allow_reentry": cl.allow_reentry, "allow_exit": cl.allow_exit,
        }
        for cl in CheckinList.objects.filter(event=event)
    ]


def inside_by_list(event: Event) -> dict[int, set[int]]:
    """Ticket ids currently inside, per list: the last counting scan of a ticket was an entry.
    One pass over counting scans in time order (indexes on list/ticket/time keep it cheap)."""
    state: dict[tuple[int, int], str] = {}
    rows = (
        Scan.objects.filter(event=event, result=Scan.Result.ADMITTED, annulled_at__isnull=True, ticket__isnull=False)
        .order_by("scanned_at", "id")
        .values_list("checkin_list_id", "ticket_id", "direction")
    )
    for list_id, ticket_id, direction in rows.iterator(chunk_size=5000):
        state[(list_id, ticket_id)] = direction
    inside: dict[int, set[int]] = {}
    for (list_id, ticket_id), direction in state.items():
        if direction == Scan.Direction.ENTRY:
            inside.setdefault(list_id, set()).add(ticket_id)
    return inside


def offline_bundle(event: Event) -> dict:
    """Everything a desk needs to decide offline: public keys, lists and their rules, tickets
    (id, serial, name, e-mail, attendance — the minimum for search and a named greeting),
    revocations, and who is inside right now. Tickets are arrays, not objects, to stay small."""
    serials = dict(TicketState.objects.filter(ticket__participant__event=event).values_list("ticket_id", "serial"))
    tickets, revoked = [], []
    now = timezone.now()
    rows = Ticket.objects.filter(participant__event=event).values_list(
        "pk", "participant__name", "participant__email", "participant__attendance", "revoked_at",
        "participant__is_removed", "valid_from", "valid_until",
    )
    for pk, name, email, attendance, revoked_at, removed, valid_from, valid_until in rows.iterator(chunk_size=5000):
        if revoked_at is not None or removed:
            revoked.append(pk)
            continue
        tickets.append([pk, serials.get(pk, 1), name, email, 1 if attendance == "onsite" else 0])
    return {
        "version": 1,
        "generated_at": now.isoformat(),
        "event": {"id": event.pk, "slug": event.slug, "title": event.title,
                  "start": event.start.isoformat(), "end": event.end.isoformat()},
        "keys": {str(kid): _b64(bytes(pub)) for kid, pub in
                 SigningKey.objects.filter(event=event, retired_at__isnull=True).values_list("kid", "public_key")},
        "lists": lists(event),
        "tickets": tickets,
        "revoked": revoked,
        "inside": {str(list_id): sorted(ids) for list_id, ids in inside_by_list(event).items()},
    }


def offline_bundle_gzip(event: Event) -> bytes:
    text = json.dumps(offline_bundle(event), separators=(",", ":"), ensure_ascii=False)
    return gzip.compress(text.encode(), compresslevel=6)


def search(event: Event, query: str) -> list[dict]:
    query = query.strip()
    if len(query) < 2:
        return []
    tickets = (
        Ticket.objects.filter(participant__event=event)
        .filter(Q(participant__name__icontains=query) | Q(participant__email__icontains=query))
        .select_related("participant")
        .order_by("participant__name")[:SEARCH_LIMIT]
    )
    return [
        {"ticket_id": t.pk, "name": t.participant.name, "email": t.participant.email,
         "attendance": t.participant.attendance, "problem": t.problem()}
        for t in tickets
    ]


def counts(event: Event) -> dict:
    """Checked in on site, per list and per room (online presence is added by the API)."""
    inside = inside_by_list(event)
    per_list = {cl.pk: (cl, len(inside.get(cl.pk, ()))) for cl in CheckinList.objects.filter(event=event)}
    on_site = set().union(*inside.values()) if inside else set()
    per_room: Counter = Counter()
    for cl, n in per_list.values():
        if cl.room_id:
            per_room[cl.room_id] += n
    return {
        "on_site": len(on_site),
        "registered_on_site": Ticket.objects.filter(
            participant__event=event, participant__attendance="onsite", participant__is_removed=False,
            revoked_at__isnull=True,
        ).count(),
        "lists": [{"id": cl.pk, "name": cl.name, "inside": n} for cl, n in per_list.values()],
        "rooms_on_site": {str(room): n for room, n in per_room.items()},
        "open_conflicts": Conflict.objects.filter(event=event, resolved_at__isnull=True).count(),
    }


def conflicts(event: Event, include_resolved: bool = False) -> list[dict]:
    rows = Conflict.objects.filter(event=event).select_related(
        "ticket__participant", "first_scan__device", "first_scan__checkin_list",
        "second_scan__device", "second_scan__checkin_list",
    ).order_by("-created")
    if not include_resolved:
        rows = rows.filter(resolved_at__isnull=True)

    def describe(scan: Scan) -> dict:
        return {"id": scan.pk, "scanned_at": scan.scanned_at.isoformat(), "list": scan.checkin_list.name,
                "device": scan.device.name if scan.device else "", "offline": scan.offline}

    return [
        {"id": c.pk, "ticket_id": c.ticket_id, "name": c.ticket.participant.name,
         "first": describe(c.first_scan), "second": describe(c.second_scan),
         "resolved_at": c.resolved_at.isoformat() if c.resolved_at else None, "note": c.note}
        for c in rows[:200]
    ]


def online_now(event: Event) -> dict:
    """People connected to the event right now (the gateway's presence), in total and per room.
    Read with a plain Redis client: the HTTP API runs outside the gateway's event loop."""
    import time

    from eventplatform.realtime.bus import sync_redis
    from eventplatform.realtime.presence import _key

    client = sync_redis()
    conn_ids = client.zrangebyscore(_key(event.pk, "z"), int(time.time() * 1000), "+inf")
    profiles = client.hmget(_key(event.pk, "h"), conn_ids) if conn_ids else []
    people: dict[int, object] = {}
    for raw in profiles:
        if raw is None:
            continue
        profile = json.loads(raw)
        if people.get(profile["id"]) is None:
            people[profile["id"]] = profile.get("room_id")
    rooms = Counter(str(room) for room in people.values() if room is not None)
    return {"online": len(people), "rooms_online": dict(rooms)}
