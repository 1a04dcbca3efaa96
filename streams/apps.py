from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StreamsConfig(AppConfig):
    """The main stage: stream sources, WHIP ingest, WHEP playback, relay."""

    name = "streams"
    verbose_name = _("Stage streams")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from streams import agenda, handlers  # noqa: F401  (registers commands and agenda actions)
