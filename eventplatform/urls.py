from django.contrib import admin
from django.urls import include, path, re_path
from django.views.i18n import set_language

from eventplatform import views
from eventplatform.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("api/streams/", include("streams.urls")),  # WHIP/WHEP (streams app)
    path("api/", api.urls),
    path("checkin/", include("checkin.urls")),  # printable tickets, sign-up, desk PWA files
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("barcamp.urls")),
    path("t/<str:secret>/", views.ticket_link, name="ticket-link"),
    path("e/<slug:slug>/", views.event_app, name="event-app"),
    re_path(r"^e/(?P<slug>[-\w]+)/(?P<view>.+)$", views.event_app, name="event-app-view"),
]
