from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BarcampConfig(AppConfig):
    """Proposals, plenum voting, the schedule grid, exports."""

    name = "barcamp"
    verbose_name = _("Barcamp")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the barcamp's socket commands, pushes and its snapshot stream.
        from barcamp import handlers  # noqa: F401
