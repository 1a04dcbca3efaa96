"""The barcamp's public pages and exports (included from eventplatform/urls.py)."""

from django.urls import path

from barcamp import views

urlpatterns = [
    path("barcamp/<slug:slug>/schedule/", views.schedule_page, name="barcamp-schedule"),
    path("barcamp/<slug:slug>/schedule.ics", views.event_ical, name="barcamp-ical"),
    path("barcamp/<slug:slug>/schedule.xml", views.schedule_xml, name="barcamp-schedule-xml"),
    path("barcamp/<slug:slug>/schedule.json", views.schedule_json, name="barcamp-schedule-json"),
    path("barcamp/<slug:slug>/my/<str:token>.ics", views.my_ical, name="barcamp-my-ical"),
    path("barcamp/calendar/<str:username>/", views.organizer_calendar, name="barcamp-organizer-calendar"),
    path("barcamp/calendar/<str:username>.ics", views.organizer_ical, name="barcamp-organizer-ical"),
]
