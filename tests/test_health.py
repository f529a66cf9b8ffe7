"""/healthz says the worker serves; /readyz says whether what it needs answers, naming what does not."""

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import OperationalError
from django.test import Client

from fieldops import views

from .servers import free_port


@pytest.mark.django_db
def test_ready_when_the_database_answers_and_the_layer_is_in_process():
    reply = Client().get("/readyz")
    assert reply.status_code == 200
    assert reply.json() == {
        "status": "ready",
        "down": [],
        "checks": {"database": "ok", "channel_layer": "in-process"},
    }


@pytest.mark.django_db
def test_not_ready_names_redis_when_it_does_not_answer(monkeypatch):
    nobody = RedisPubSubChannelLayer(hosts=[f"redis://127.0.0.1:{free_port()}/0"])
    monkeypatch.setattr(views, "get_channel_layer", lambda: nobody)
    reply = Client().get("/readyz")
    assert reply.status_code == 503
    assert reply.json()["down"] == ["channel_layer"]
    assert Client().get("/healthz").status_code == 200  # liveness is not readiness


@pytest.mark.django_db
def test_not_ready_names_the_database_when_it_does_not_answer(monkeypatch):
    class Down:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr(views, "connection", Down())
    reply = Client().get("/readyz")
    assert reply.status_code == 503
    assert reply.json()["down"] == ["database"]
    assert reply.json()["checks"]["database"] == "down"
