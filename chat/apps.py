from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    """Chat channels, messages, questions, votes, moderation."""

    name = "chat"
    verbose_name = _("Chat and Q&A")
    default_auto_field = "django.db.models.BigAutoField"
