from django.contrib import admin

from checkin.models import CheckinList, Conflict, Device, RegistrationSettings, Scan


@admin.register(CheckinList)
class CheckinListAdmin(admin.ModelAdmin):
    list_display = ["name", "event", "attendance", "opens_at", "closes_at", "allow_reentry", "allow_exit"]
    list_filter = ["event"]


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    list_display = ["scanned_at", "checkin_list", "ticket", "direction", "result", "reason", "device", "offline", "annulled_at"]
    list_filter = ["event", "result", "direction", "offline"]
    readonly_fields = [f.name for f in Scan._meta.fields]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "event", "created", "last_seen", "revoked_at"]
    exclude = ["token_hash"]
    readonly_fields = ["event", "created_by", "last_seen"]

    def has_add_permission(self, request) -> bool:
        return False  # desks are set up from the desk page, which shows the token once


@admin.register(Conflict)
class ConflictAdmin(admin.ModelAdmin):
    list_display = ["ticket", "created", "resolved_at"]


admin.site.register(RegistrationSettings)
