"""Data of tickets at the door: signing keys, check-in lists, desks, scans and conflicts.

Modelled on pretix's check-in: every scan is a row (refused ones too), a scan belongs to a
check-in list with its own rules, entry and exit are directions, and a client-chosen retry id
makes a repeated request harmless. Unlike pretix, offline admissions that collide are kept as
conflicts for staff to review instead of being silently merged.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from eventplatform.models import Event, Participant, Room, Ticket


class SigningKey(models.Model):
    """One Ed25519 key pair per event; the private half never leaves the server and is stored
    encrypted with a key derived from SECRET_KEY (a database dump alone cannot forge tickets)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="signing_keys")
    kid = models.PositiveIntegerField(_("key id"), unique=True)
    public_key = models.BinaryField(max_length=32)
    private_key_sealed = models.BinaryField()
    created = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")


class TicketState(models.Model):
    """The row a scan locks (SELECT … FOR UPDATE): one per ticket, so two desks scanning the same
    ticket at the same instant are serialized, whichever list they use. `serial` grows when a
    ticket is re-issued; codes carrying an older serial are refused."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="checkin_state")
    serial = models.PositiveIntegerField(default=1)
    reissued_at = models.DateTimeField(null=True, blank=True)


class CheckinList(models.Model):
    class Attendance(models.TextChoices):
        ANY = "any", _("everyone")
        ONSITE = "onsite", _("on-site tickets only")
        ONLINE = "online", _("online tickets only")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="checkin_lists")
    name = models.CharField(_("name"), max_length=100)
    room = models.ForeignKey(
        Room, on_delete=models.SET_NULL, null=True, blank=True, related_name="checkin_lists",
        help_text=_("Counts people checked in here towards this room."),
    )
    attendance = models.CharField(_("admits"), max_length=8, choices=Attendance.choices, default=Attendance.ONSITE)
    opens_at = models.DateTimeField(_("opens"), null=True, blank=True)
    closes_at = models.DateTimeField(_("closes"), null=True, blank=True)
    allow_reentry = models.BooleanField(_("re-entry after exit"), default=True)
    allow_exit = models.BooleanField(_("exits are scanned"), default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["event", "position", "id"]
        verbose_name = _("check-in list")
        verbose_name_plural = _("check-in lists")
        constraints = [models.UniqueConstraint(fields=["event", "name"], name="checkin_list_name_unique")]

    def __str__(self) -> str:
        return self.name


class Device(models.Model):
    """A desk (phone, laptop) provisioned by staff; its bearer token is stored only as a hash and
    revoking it signs the desk out at its next request."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="checkin_devices")
    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(Participant, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("check-in desk")
        verbose_name_plural = _("check-in desks")

    def __str__(self) -> str:
        return self.name


class Scan(models.Model):
    class Direction(models.TextChoices):
        ENTRY = "entry", _("entry")
        EXIT = "exit", _("exit")

    class Result(models.TextChoices):
        ADMITTED = "admitted", _("admitted")
        ALREADY_IN = "already_in", _("already checked in")
        REFUSED = "refused", _("refused")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="checkin_scans")
    checkin_list = models.ForeignKey(CheckinList, on_delete=models.CASCADE, related_name="scans")
    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="scans")
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="scans")
    staff = models.ForeignKey(Participant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.ENTRY)
    result = models.CharField(max_length=10, choices=Result.choices)
    reason = models.CharField(max_length=40, blank=True)
    raw_code = models.CharField(max_length=200, blank=True)
    retry_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    scanned_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    offline = models.BooleanField(default=False)
    annulled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-scanned_at", "-id"]
        indexes = [
            models.Index(fields=["checkin_list", "ticket", "scanned_at"]),
            models.Index(fields=["event", "result"]),
        ]

    @property
    def counts(self) -> bool:
        """Whether this scan moved the ticket in or out."""
        return self.result == self.Result.ADMITTED and self.annulled_at is None


class Conflict(models.Model):
    """Two desks let the same ticket in while at least one of them was offline."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="checkin_conflicts")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    first_scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="+")
    second_scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(Participant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    note = models.CharField(max_length=200, blank=True)


class RegistrationSettings(models.Model):
    """Whether anyone with the event link may sign up for a free ticket."""

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="checkin_registration")
    signup_open = models.BooleanField(_("free sign-up open"), default=False)
    onsite_capacity = models.PositiveIntegerField(_("on-site places"), null=True, blank=True)
