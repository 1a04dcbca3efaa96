from django.urls import path

from streams import views

urlpatterns = [
    path("<int:room_id>/whip", views.whip, name="stage-whip"),
    path("<int:room_id>/whip/<str:resource>", views.whip_resource, name="stage-whip-resource"),
    path("<int:room_id>/whep", views.whep, name="stage-whep"),
    path("<int:room_id>/whep/<str:resource>", views.whep_resource, name="stage-whep-resource"),
]
