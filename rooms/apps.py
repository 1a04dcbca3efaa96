from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoomsConfig(AppConfig):
    """Breakout rooms: assignment, moves, timers, WebRTC signalling."""

    name = "rooms"
    verbose_name = _("Breakout rooms")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from rooms import agenda, handlers, signals  # noqa: F401  (registration)
