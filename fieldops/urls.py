from django.contrib import admin
from django.urls import path

from fieldops import views
from fieldops.api import api
from marshals import views as marshal_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("join/<str:code>/", marshal_views.join, name="join"),
    path("e/<slug:slug>/", views.event_home, name="event-home"),
    path("healthz", views.health, name="health"),
]
