"""Organizers see the plan and its audit log in the back office (read-only: the schedule and
the overrides change them, never a hand edit)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from eventplatform.transitions.models import AuditEntry, Transition, TransitionSettings


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Transition)
class TransitionAdmin(ReadOnlyAdmin):
    list_display = ["session", "moment", "warning_minutes", "due_at", "state", "attempts", "late_ms", "reason"]
    list_filter = ["state", "moment", "event"]
    search_fields = ["session__title"]
    list_select_related = ["session"]
    date_hierarchy = "due_at"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "event", "kind", "action", "session_title", "who", "detail"]
    list_filter = ["kind", "action", "event"]
    search_fields = ["session_title", "actor_name", "action"]
    list_select_related = ["event"]
    date_hierarchy = "at"

    @admin.display(description=_("who"))
    def who(self, obj: AuditEntry) -> str:
        return obj.actor_name or str(_("the schedule"))


@admin.register(TransitionSettings)
class TransitionSettingsAdmin(admin.ModelAdmin):
    list_display = ["event", "warning_minutes"]

    def save_model(self, request, obj, form, change):
        from eventplatform.transitions import services

        services.set_warnings(obj.event, obj.warning_minutes)
