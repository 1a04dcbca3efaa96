"""The schedule in the formats other software reads: iCal, frab schedule.xml, c3voc schedule.json.

Every export covers the whole agenda of an event (barcamp sessions and the rest), with ids
that stay the same across releases: the agenda session's id and a UUID derived from it.
"""

import re
import uuid
import zoneinfo
from collections import defaultdict
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.text import slugify
from icalendar import Calendar
from icalendar import Event as CalendarEvent
from xml.etree import ElementTree as etree

from eventplatform.models import Event, Session

GENERATOR = "eventplatform"
TIMESLOT = "00:15"


def session_guid(base_url: str, session_id: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url}/sessions/{session_id}"))


def acronym(event: Event) -> str:
    """The event's short name as both schemas accept it: lowercase, no hyphens, 4+ characters."""
    text = re.sub(r"[^a-z0-9_]", "_", event.slug.lower())
    return text if len(text) >= 4 else (text + "_camp")


def sessions_of(event: Event) -> list[Session]:
    return list(
        Session.objects.filter(event=event)
        .select_related("room", "barcamp_publication__proposal")
        .prefetch_related("speakers")
        .order_by("start", "room__position", "id")
    )


def _language(event: Event, session: Session) -> str:
    publication = getattr(session, "barcamp_publication", None)
    if publication is not None:
        return publication.proposal.language
    return (event.language_list or ["de"])[0]


def _hhmm(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days(event: Event, sessions: list[Session]) -> list[tuple[int, datetime, datetime, list[Session]]]:
    """(index, day start, day end, sessions) per local date of the event, from 1."""
    tz = zoneinfo.ZoneInfo(event.timezone)
    first = event.start.astimezone(tz).date()
    last = max([event.end.astimezone(tz).date(), *(s.start.astimezone(tz).date() for s in sessions)])
    firsts = min([first, *(s.start.astimezone(tz).date() for s in sessions)])
    by_date: dict = defaultdict(list)
    for s in sessions:
        by_date[s.start.astimezone(tz).date()].append(s)
    days = []
    current = firsts
    index = 1
    while current <= last:
        start = datetime.combine(current, datetime.min.time(), tz)
        end = start + timedelta(days=1) - timedelta(seconds=1)
        days.append((index, start, end, by_date.get(current, [])))
        current += timedelta(days=1)
        index += 1
    return days


def _slug(event: Event, session: Session) -> str:
    return f"{acronym(event)}-{session.id}-{slugify(session.title)[:60].strip('-') or 'session'}"


def ical(title: str, sessions: list[Session], base_url: str, page_url: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//eventplatform//barcamp//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", title)
    stamp = timezone.now()
    for s in sessions:
        entry = CalendarEvent()
        entry.add("uid", f"{session_guid(base_url, s.id)}@eventplatform")
        entry.add("dtstamp", stamp)
        entry.add("dtstart", s.start)
        entry.add("dtend", s.end)
        entry.add("summary", s.title)
        if s.abstract:
            entry.add("description", s.abstract)
        if s.room is not None:
            entry.add("location", s.room.name)
        entry.add("url", page_url)
        calendar.add_component(entry)
    return calendar.to_ical()


def event_calendar_ical(title: str, events: list[Event], url_for) -> bytes:
    """One entry per event (for an organizer's public calendar)."""
    calendar = Calendar()
    calendar.add("prodid", "-//eventplatform//events//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", title)
    stamp = timezone.now()
    for e in events:
        entry = CalendarEvent()
        entry.add("uid", f"event-{e.id}-{e.slug}@eventplatform")
        entry.add("dtstamp", stamp)
        entry.add("dtstart", e.start)
        entry.add("dtend", e.end)
        entry.add("summary", e.title)
        entry.add("location", e.venue_address.strip() or "online")
        entry.add("url", url_for(e))
        calendar.add_component(entry)
    return calendar.to_ical()


def _iso(moment: datetime, tz) -> str:
    return moment.astimezone(tz).isoformat()


def schedule_xml(event: Event, base_url: str, page_url: str, version: str) -> bytes:
    """frab/Pentabarf schedule.xml, as Giggity, EventFahrplan and info-beamer read it."""
    tz = zoneinfo.ZoneInfo(event.timezone)
    sessions = sessions_of(event)
    root = etree.Element("schedule")
    etree.SubElement(root, "generator", name=GENERATOR, version="1")
    etree.SubElement(root, "url").text = page_url
    etree.SubElement(root, "version").text = version
    conference = etree.SubElement(root, "conference")
    etree.SubElement(conference, "title").text = event.title
    etree.SubElement(conference, "acronym").text = acronym(event)
    days = _days(event, sessions)
    etree.SubElement(conference, "start").text = _iso(event.start, tz)
    etree.SubElement(conference, "end").text = _iso(event.end, tz)
    etree.SubElement(conference, "days").text = str(len(days))
    etree.SubElement(conference, "timeslot_duration").text = TIMESLOT
    etree.SubElement(conference, "url").text = page_url
    etree.SubElement(conference, "time_zone_name").text = event.timezone
    for index, day_start, day_end, day_sessions in days:
        day = etree.SubElement(
            root, "day", index=str(index), date=day_start.date().isoformat(),
            start=_iso(day_start, tz), end=_iso(day_end, tz),
        )
        by_room: dict[str, list[Session]] = defaultdict(list)
        room_guid: dict[str, str] = {}
        for s in day_sessions:
            name = s.room.name if s.room else "—"
            by_room[name].append(s)
            room_guid[name] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url}/rooms/{s.room_id}"))
        for name, room_sessions in by_room.items():
            room = etree.SubElement(day, "room", name=name, guid=room_guid[name])
            for s in room_sessions:
                item = etree.SubElement(room, "event", id=str(s.id), guid=session_guid(base_url, s.id))
                etree.SubElement(item, "room").text = name
                etree.SubElement(item, "title").text = s.title
                etree.SubElement(item, "subtitle").text = ""
                etree.SubElement(item, "type").text = s.kind
                etree.SubElement(item, "date").text = _iso(s.start, tz)
                etree.SubElement(item, "start").text = s.start.astimezone(tz).strftime("%H:%M")
                etree.SubElement(item, "duration").text = _hhmm(s.end - s.start)
                etree.SubElement(item, "abstract").text = s.abstract
                etree.SubElement(item, "slug").text = _slug(event, s)
                etree.SubElement(item, "track").text = "Barcamp" if s.kind == Session.Kind.BARCAMP else ""
                persons = etree.SubElement(item, "persons")
                for p in s.speakers.all():
                    etree.SubElement(persons, "person", id=str(p.id)).text = p.name
                etree.SubElement(item, "language").text = _language(event, s)
                etree.SubElement(item, "url").text = f"{page_url}#session-{s.id}"
    etree.indent(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def schedule_json(event: Event, base_url: str, page_url: str, version: str) -> dict:
    """c3voc schedule.json (the JSON twin of schedule.xml)."""
    tz = zoneinfo.ZoneInfo(event.timezone)
    sessions = sessions_of(event)
    days = _days(event, sessions)
    rooms: dict[str, dict] = {}
    day_list = []
    for index, day_start, day_end, day_sessions in days:
        by_room: dict[str, list] = defaultdict(list)
        for s in day_sessions:
            name = s.room.name if s.room else "—"
            rooms.setdefault(
                name, {"name": name, "guid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{base_url}/rooms/{s.room_id}"))}
            )
            by_room[name].append(
                {
                    "id": s.id,
                    "guid": session_guid(base_url, s.id),
                    "date": _iso(s.start, tz),
                    "start": s.start.astimezone(tz).strftime("%H:%M"),
                    "duration": _hhmm(s.end - s.start),
                    "room": name,
                    "slug": _slug(event, s),
                    "url": f"{page_url}#session-{s.id}",
                    "title": s.title,
                    "subtitle": "",
                    "track": "Barcamp" if s.kind == Session.Kind.BARCAMP else None,
                    "type": s.kind,
                    "language": _language(event, s),
                    "abstract": s.abstract,
                    "description": "",
                    "persons": [{"name": p.name} for p in s.speakers.all()],
                    "links": [],
                }
            )
        day_list.append(
            {
                "index": index,
                "date": day_start.date().isoformat(),
                "day_start": _iso(day_start, tz),
                "day_end": _iso(day_end, tz),
                "rooms": dict(by_room),
            }
        )
    conference = {
        "acronym": acronym(event),
        "title": event.title,
        "start": _iso(event.start, tz),
        "end": _iso(event.end, tz),
        "daysCount": len(days),
        "timeslot_duration": TIMESLOT,
        "url": page_url,
        "rooms": list(rooms.values()),
        "days": day_list,
    }
    if re.fullmatch(r"[A-Z][a-z]+/[A-Z][a-z]+|UTC", event.timezone):
        conference["time_zone_name"] = event.timezone
    return {
        "$schema": "https://c3voc.de/schedule/schema.json",
        "generator": {"name": GENERATOR, "version": "1"},
        "schedule": {"version": version, "base_url": base_url + "/", "conference": conference},
    }
