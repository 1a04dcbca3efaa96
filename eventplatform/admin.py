"""The organizers' back office: events with their rooms and agenda inline."""

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from eventplatform import services
from eventplatform.models import Event, Participant, Room, Session, Ticket


class AgendaChangeMixin:
    """Every agenda edit in the admin goes through the service, so open browsers update."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.agenda_changed(self._event_of(form.instance))

    def delete_model(self, request, obj):
        event = self._event_of(obj)
        super().delete_model(request, obj)
        services.agenda_changed(event)

    def delete_queryset(self, request, queryset):
        events = {self._event_of(obj) for obj in queryset}
        super().delete_queryset(request, queryset)
        for event in events:
            services.agenda_changed(event)

    @staticmethod
    def _event_of(obj) -> Event:
        return obj if isinstance(obj, Event) else obj.event


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0
    fields = ["name", "kind", "capacity", "position"]


class SessionInline(admin.TabularInline):
    model = Session
    extra = 0
    fields = ["title", "kind", "start", "end", "room"]
    show_change_link = True

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "room" and (event_id := request.resolver_match.kwargs.get("object_id")):
            kwargs["queryset"] = Room.objects.filter(event_id=event_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Event)
class EventAdmin(AgendaChangeMixin, admin.ModelAdmin):
    list_display = ["title", "slug", "start", "end", "is_online", "is_public", "participant_count"]
    list_filter = ["is_online", "is_public", "start"]
    search_fields = ["title", "slug", "venue_address"]
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "start"
    inlines = [RoomInline, SessionInline]
    fieldsets = [
        (None, {"fields": ["title", "slug", "start", "end", "timezone", "languages"]}),
        (_("Where"), {"fields": ["is_online", "venue_address", "is_public"]}),
    ]

    @admin.display(description=_("participants"))
    def participant_count(self, obj: Event) -> int:
        return obj.participants.count()


@admin.register(Room)
class RoomAdmin(AgendaChangeMixin, admin.ModelAdmin):
    list_display = ["name", "event", "kind", "capacity", "position"]
    list_filter = ["kind", "event"]
    search_fields = ["name", "event__title"]
    list_select_related = ["event"]


@admin.register(Session)
class SessionAdmin(AgendaChangeMixin, admin.ModelAdmin):
    list_display = ["title", "event", "kind", "start", "end", "room"]
    list_filter = ["kind", "event", "room__kind"]
    search_fields = ["title", "abstract", "speakers__name"]
    date_hierarchy = "start"
    autocomplete_fields = ["speakers"]
    list_select_related = ["event", "room"]


class TicketInline(admin.StackedInline):
    model = Ticket
    extra = 0
    readonly_fields = ["ticket_link", "created"]
    fields = ["ticket_link", "valid_from", "valid_until", "revoked_at", "created"]

    @admin.display(description=_("ticket link"))
    def ticket_link(self, obj: Ticket) -> str:
        from django.conf import settings

        url = f"{settings.PUBLIC_URL}/t/{obj.secret}/"
        return format_html('<a href="{}">{}</a>', url, url)


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "event",
        "email",
        "attendance",
        "is_organizer",
        "is_moderator",
        "is_speaker",
        "is_staff_member",
        "is_removed",
    ]
    list_filter = ["event", "attendance", "is_organizer", "is_moderator", "is_speaker", "is_staff_member", "is_removed"]
    search_fields = ["name", "email", "user__username"]
    list_select_related = ["event"]
    raw_id_fields = ["user"]
    inlines = [TicketInline]
