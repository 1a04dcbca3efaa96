from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BarcampConfig(AppConfig):
    """Proposals, plenum voting, the schedule grid, exports."""

    name = "barcamp"
    verbose_name = _("Barcamp")
    default_auto_field = "django.db.models.BigAutoField"
