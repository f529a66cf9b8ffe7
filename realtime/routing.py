from django.urls import path

from .consumer import EventConsumer

websocket_urlpatterns = [
    path("ws/events/<slug:slug>/", EventConsumer.as_asgi()),
]
