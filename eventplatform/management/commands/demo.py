"""`manage.py demo`: the "Digital Day" hybrid event with one login link per role.

Idempotent: running it again changes nothing and prints the same links.
"""

import zoneinfo
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from eventplatform import services
from eventplatform.models import Event, Participant, Room, Session

SLUG = "digital-day"
TZ = "Europe/Berlin"

ROOMS = [
    ("Hauptbühne", Room.Kind.STAGE, 500),
    ("Breakout 1", Room.Kind.BREAKOUT, 4),
    ("Breakout 2", Room.Kind.BREAKOUT, 4),
    ("Breakout 3", Room.Kind.BREAKOUT, 4),
    ("Saal Rhein", Room.Kind.ONSITE, 80),
    ("Werkstatt", Room.Kind.ONSITE, 25),
]

# (start, minutes, title, kind, room, speaker usernames)
AGENDA = [
    ("09:00", 30, "Ankommen & Kaffee", Session.Kind.NETWORKING, "Saal Rhein", []),
    ("09:30", 15, "Begrüßung", Session.Kind.TALK, "Hauptbühne", ["organizer"]),
    ("09:45", 45, "Keynote: Digitale Teilhabe in der Region", Session.Kind.TALK, "Hauptbühne", ["speaker"]),
    ("10:30", 15, "Pause", Session.Kind.BREAK, None, []),
    ("10:45", 45, "Workshop: Open Data im Rathaus", Session.Kind.WORKSHOP, "Breakout 1", ["speaker"]),
    ("10:45", 45, "Workshop: Vereine online", Session.Kind.WORKSHOP, "Breakout 2", []),
    ("10:45", 45, "Workshop: Barrierefreie Webseiten", Session.Kind.WORKSHOP, "Werkstatt", []),
    ("11:30", 60, "Barcamp-Runde 1", Session.Kind.BARCAMP, "Breakout 3", []),
    ("12:30", 60, "Mittagspause", Session.Kind.BREAK, None, []),
    ("13:30", 45, "Podium: Smart City ohne Buzzwords", Session.Kind.TALK, "Hauptbühne", ["speaker", "moderator"]),
    ("14:15", 45, "Networking in kleinen Gruppen", Session.Kind.NETWORKING, "Breakout 1", []),
    ("15:00", 30, "Abschluss & Ausblick", Session.Kind.TALK, "Hauptbühne", ["organizer"]),
]

PEOPLE = [
    ("organizer", "Olga Organisatorin", {"organizer"}, Participant.Attendance.ONSITE),
    ("moderator", "Moritz Moderator", {"moderator"}, Participant.Attendance.ONLINE),
    ("speaker", "Sina Sprecherin", {"speaker"}, Participant.Attendance.ONSITE),
    ("staff", "Stefan Einlass", {"staff"}, Participant.Attendance.ONSITE),
    ("attendee", "Anna Teilnehmerin", set(), Participant.Attendance.ONLINE),
]

FIRST = ["Lena", "Jonas", "Mia", "Paul", "Emma", "Ben", "Lea", "Finn", "Hannah", "Luis"]
LAST = ["Becker", "Schulz", "Wagner"]


class Command(BaseCommand):
    help = "Create the Digital Day demo event (idempotent) and print one login link per role."

    def handle(self, *args, **options):
        with transaction.atomic():
            event, created = self._event()
            people = self._people(event)
            if created:
                self._agenda(event, people)
        if created:
            services.agenda_changed(event)
        self._print_links(event, people)

    def _event(self) -> tuple[Event, bool]:
        tz = zoneinfo.ZoneInfo(TZ)
        today = timezone.now().astimezone(tz).date()
        return Event.objects.get_or_create(
            slug=SLUG,
            defaults={
                "title": "Digital Day",
                "timezone": TZ,
                "start": datetime.combine(today, time(9, 0), tz),
                "end": datetime.combine(today, time(16, 0), tz),
                "venue_address": "Rathausplatz 1, 50667 Köln",
                "is_online": True,
                "languages": "de,en",
                "is_public": True,
            },
        )

    def _people(self, event: Event) -> dict[str, Participant]:
        people = {}
        for username, name, roles, attendance in PEOPLE:
            people[username] = services.register_participant(
                event, name=name, username=f"demo-{username}", attendance=attendance, roles=roles,
                email=f"{username}@example.org",
            )
        organizer_user = people["organizer"].user
        if not organizer_user.is_superuser:
            # The organizer also runs the back office (/admin/) once logged in by ticket link.
            organizer_user.is_staff = organizer_user.is_superuser = True
            organizer_user.save(update_fields=["is_staff", "is_superuser"])
        for i in range(30):
            name = f"{FIRST[i % 10]} {LAST[i // 10]}"
            services.register_participant(
                event,
                name=name,
                username=f"demo-attendee-{i + 1:02d}",
                email=f"attendee{i + 1:02d}@example.org",
                attendance=Participant.Attendance.ONSITE if i % 3 == 0 else Participant.Attendance.ONLINE,
            )
        return people

    def _agenda(self, event: Event, people: dict[str, Participant]) -> None:
        tz = zoneinfo.ZoneInfo(TZ)
        day = event.start.astimezone(tz).date()
        rooms = {}
        for position, (name, kind, capacity) in enumerate(ROOMS):
            rooms[name] = Room.objects.create(event=event, name=name, kind=kind, capacity=capacity, position=position)
        for start, minutes, title, kind, room, speakers in AGENDA:
            begins = datetime.combine(day, time.fromisoformat(start), tz)
            session = Session.objects.create(
                event=event,
                title=title,
                kind=kind,
                start=begins,
                end=begins + timedelta(minutes=minutes),
                room=rooms.get(room),
            )
            session.speakers.set([people[s] for s in speakers])

    def _print_links(self, event: Event, people: dict[str, Participant]) -> None:
        base = settings.PUBLIC_URL
        self.stdout.write(self.style.SUCCESS(f"\n{event.title}: {base}/e/{event.slug}/"))
        self.stdout.write("Login links (one per role):")
        for username, participant in people.items():
            self.stdout.write(f"  {username:<10} {participant.name:<20} {base}/t/{participant.ticket.secret}/")
        self.stdout.write(f"Back office: {base}/admin/ (open the organizer link first)\n")
