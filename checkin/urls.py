from django.urls import path

from checkin import views

urlpatterns = [
    path("ticket/<str:secret>/", views.printable_ticket, name="checkin-ticket-print"),
    path("signup/<slug:slug>/", views.signup_page, name="checkin-signup"),
    path("e/<slug:slug>/manifest.webmanifest", views.manifest, name="checkin-manifest"),
    path("desk-sw.js", views.service_worker, name="checkin-sw"),
    path("icon.svg", views.icon, name="checkin-icon"),
]
