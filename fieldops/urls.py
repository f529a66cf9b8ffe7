from django.contrib import admin
from django.urls import include, path

from fieldops import casework, offline, pages, report, tiles, views
from fieldops.api import api
from marshals import views as marshal_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("join/<str:code>/", marshal_views.join, name="join"),
    path("e/<slug:slug>/", pages.event_home, name="event-home"),
    path("e/<slug:slug>/invites/", pages.invite_new, name="invite-new"),
    path("e/<slug:slug>/cases/", casework.cases, name="cases"),
    path("e/<slug:slug>/cases/<int:arrest_id>/", casework.case, name="case"),
    path("e/<slug:slug>/export", report.export_download, name="export-page"),
    path("e/<slug:slug>/report/", report.report, name="report"),
    path("e/<slug:slug>/sw.js", offline.service_worker, name="service-worker"),
    path("e/<slug:slug>/manifest.webmanifest", offline.manifest, name="manifest"),
    path("tiles/<str:version>/<int:z>/<int:x>/<int:y>.<str:ext>", tiles.tile, name="tile"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", views.health, name="health"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("readyz", views.ready, name="ready"),
]
