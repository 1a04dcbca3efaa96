from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CheckinConfig(AppConfig):
    """Tickets at the door: signed QR codes, scans, desks, live counts."""

    name = "checkin"
    verbose_name = _("Check-in")
    default_auto_field = "django.db.models.BigAutoField"
