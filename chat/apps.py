from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    """Chat channels, messages, questions, votes, moderation."""

    name = "chat"
    verbose_name = _("Chat and Q&A")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat import (
            handlers,  # noqa: F401  (registers the socket commands)
            services,
        )
        from eventplatform.agenda_actions import Moment, agenda_action

        # Q&A follows the talk on the stage: opens at its start, closes at its end.
        agenda_action("chat.open_qa", moment=Moment.START, session_kinds={"talk"}, room_kinds={"stage"})(
            lambda session, transition: services.open_qa_for_session(session)
        )
        agenda_action("chat.close_qa", moment=Moment.END, session_kinds={"talk"}, room_kinds={"stage"})(
            lambda session, transition: services.close_qa_for_session(session)
        )
