"""Setting up a barcamp in the back office: its rooms and time slots, its settings, proposals.

Rooms and slots are saved through the services, so every new row or column of the grid gets
its cells at once.
"""

from django.contrib import admin

from barcamp import services
from barcamp.models import BarcampRoom, BarcampSettings, Proposal, Release, Slot


@admin.register(BarcampSettings)
class BarcampSettingsAdmin(admin.ModelAdmin):
    list_display = ["event", "session_length", "voting_open", "grid_fixed", "releases"]
    readonly_fields = ["releases"]


@admin.register(BarcampRoom)
class BarcampRoomAdmin(admin.ModelAdmin):
    list_display = ["room", "capacity", "mode", "breakout", "streamable"]
    list_filter = ["room__event", "mode"]

    def save_model(self, request, obj, form, change):
        services.add_room(
            obj.room.event, obj.room, capacity=obj.capacity, mode=obj.mode,
            breakout=obj.breakout, streamable=obj.streamable,
        )


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ["event", "start", "end", "is_blocked", "label"]
    list_filter = ["event", "is_blocked"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            saved = services.add_slot(obj.event, obj.start, obj.end, blocked=obj.is_blocked, label=obj.label)
            obj.pk = saved.pk


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ["title", "event", "proposer", "format", "length", "mode", "hands", "is_withdrawn"]
    list_filter = ["event", "format", "mode", "is_withdrawn"]
    search_fields = ["title", "description"]


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ["event", "number", "created"]
    readonly_fields = ["event", "number", "created", "changes"]
