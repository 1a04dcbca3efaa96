from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "eventplatform"
    label = "eventplatform"
    verbose_name = _("Events")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The core's own socket commands and streams (hello, ping, agenda).
        from eventplatform import handlers  # noqa: F401

        # Schedule-driven transitions: socket commands, the core's own agenda actions, Celery tasks.
        from eventplatform.transitions import actions, admin, handlers as transition_handlers, tasks  # noqa: F401
