"""The core domain every app shares: events, their rooms and agenda, participants, tickets."""

import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TIMEZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Event(models.Model):
    slug = models.SlugField(_("short name"), unique=True, help_text=_("Used in links: /e/<short name>/"))
    title = models.CharField(_("title"), max_length=200)
    timezone = models.CharField(_("time zone"), max_length=64, choices=TIMEZONE_CHOICES, default="Europe/Berlin")
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    venue_address = models.TextField(_("venue address"), blank=True, help_text=_("Empty for online-only events."))
    is_online = models.BooleanField(_("online"), default=True, help_text=_("People can take part from home."))
    languages = models.CharField(
        _("languages"), max_length=50, default="de,en", help_text=_("Comma-separated language codes, e.g. de,en")
    )
    is_public = models.BooleanField(_("public"), default=False, help_text=_("Listed on the public schedule pages."))
    # Bumped by every agenda change; clients resume their agenda from it.
    agenda_version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-start"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": _("The event must end after it starts.")})

    @property
    def language_list(self) -> list[str]:
        return [code.strip() for code in self.languages.split(",") if code.strip()]

    @property
    def is_hybrid(self) -> bool:
        return self.is_online and bool(self.venue_address.strip())


class Room(models.Model):
    class Kind(models.TextChoices):
        STAGE = "stage", _("stage")
        BREAKOUT = "breakout", _("breakout room")
        ONSITE = "onsite", _("on-site room")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="rooms", verbose_name=_("event"))
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.BREAKOUT)
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True, help_text=_("Empty: no limit."))
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["event", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "name"], name="room_name_unique_per_event")]

    def __str__(self) -> str:
        return self.name


class Participant(models.Model):
    """A person in one event, with the roles they hold there."""

    class Role(models.TextChoices):
        ORGANIZER = "organizer", _("organizer")
        MODERATOR = "moderator", _("moderator")
        SPEAKER = "speaker", _("speaker")
        STAFF = "staff", _("on-site staff")
        ATTENDEE = "attendee", _("attendee")

    class Attendance(models.TextChoices):
        ONLINE = "online", _("online")
        ONSITE = "onsite", _("on site")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="participants", verbose_name=_("event"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations", verbose_name=_("user")
    )
    name = models.CharField(_("display name"), max_length=100)
    email = models.EmailField(_("e-mail"), blank=True)
    # Every participant is an attendee; these flags add what a person may do beyond that.
    is_organizer = models.BooleanField(_("organizer"), default=False)
    is_moderator = models.BooleanField(_("moderator"), default=False)
    is_speaker = models.BooleanField(_("speaker"), default=False)
    is_staff_member = models.BooleanField(_("on-site staff"), default=False)
    attendance = models.CharField(_("attends"), max_length=8, choices=Attendance.choices, default=Attendance.ONLINE)
    is_removed = models.BooleanField(_("removed from the event"), default=False)
    created = models.DateTimeField(_("registered"), auto_now_add=True)

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        ordering = ["event", "name"]
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="participant_unique_per_event")]

    def __str__(self) -> str:
        return self.name

    @property
    def roles(self) -> list[str]:
        roles = [
            role
            for role, held in (
                (self.Role.ORGANIZER, self.is_organizer),
                (self.Role.MODERATOR, self.is_moderator),
                (self.Role.SPEAKER, self.is_speaker),
                (self.Role.STAFF, self.is_staff_member),
            )
            if held
        ]
        return [str(role) for role in roles] + [str(self.Role.ATTENDEE)]


class Session(models.Model):
    """An agenda item."""

    class Kind(models.TextChoices):
        TALK = "talk", _("talk")
        WORKSHOP = "workshop", _("workshop")
        BARCAMP = "barcamp", _("barcamp slot")
        BREAK = "break", _("break")
        NETWORKING = "networking", _("networking")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("event"))
    title = models.CharField(_("title"), max_length=200)
    abstract = models.TextField(_("abstract"), blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.TALK)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    room = models.ForeignKey(
        Room, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions", verbose_name=_("where")
    )
    speakers = models.ManyToManyField(Participant, blank=True, related_name="sessions", verbose_name=_("speakers"))

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("agenda")
        ordering = ["event", "start", "room__position", "id"]
        indexes = [models.Index(fields=["event", "start"])]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        # The same rules the agenda service enforces, so the admin shows them on the form.
        from eventplatform.services import agenda_problems

        problems = agenda_problems(self)
        if problems:
            raise ValidationError(problems)


def new_ticket_secret() -> str:
    # 32 random bytes: unguessable, and short enough for a link and a QR code.
    return secrets.token_urlsafe(32)


class Ticket(models.Model):
    """One per participant; its secret in a link logs the participant in without a password."""

    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, related_name="ticket", verbose_name=_("participant")
    )
    secret = models.CharField(_("secret"), max_length=64, unique=True, default=new_ticket_secret, editable=False)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    created = models.DateTimeField(_("issued"), auto_now_add=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")

    def __str__(self) -> str:
        return str(_("Ticket of %(name)s") % {"name": self.participant.name})

    def problem(self, now=None) -> str | None:
        """Why this ticket cannot be used now (an error code), or None if it can."""
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "ticket_revoked"
        if self.valid_from and now < self.valid_from:
            return "ticket_not_yet_valid"
        if self.valid_until and now > self.valid_until:
            return "ticket_expired"
        if self.participant.is_removed:
            return "ticket_revoked"
        return None

# Schedule-driven transitions live in their own module of the core (eventplatform/transitions/).
from eventplatform.transitions.models import AuditEntry, Transition, TransitionSettings  # noqa: E402,F401
