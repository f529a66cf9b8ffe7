"""`manage.py demo`: a neutral demo event with groups, a route and places, and an invite per role."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command
from django.test import Client

from fieldops.models import Event, Place, Route

ROLES = {"organizer", "marshal", "legal", "medic", "marcher"}


def run_demo(*args) -> str:
    out = io.StringIO()
    call_command("demo", *args, stdout=out)
    return out.getvalue()


def test_demo_json_gives_the_event_and_an_invite_per_role(db, settings):
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    result = json.loads(run_demo("--json"))

    assert set(result["invites"]) == ROLES
    for invite in result["invites"].values():
        assert invite["code"] and invite["url"] == f"http://127.0.0.1:8000/join/{invite['code']}/"
    event = Event.objects.get(slug=result["event"])
    assert event.groups.count() == 2
    route = Route.objects.get(event=event)
    assert route.geometry["type"] == "LineString" and len(route.geometry["coordinates"]) >= 2
    places = Place.objects.filter(event=event)
    assert {"medic", "legal", "water", "exit", "assembly", "danger"} <= {p.kind for p in places}
    assert {p.geometry["type"] for p in places} == {"Point", "Polygon"}


def test_every_demo_invite_joins_with_its_role(db):
    result = json.loads(run_demo("--json"))
    for role, invite in result["invites"].items():
        response = Client().post(
            "/api/join", {"code": invite["code"]}, content_type="application/json"
        )
        assert response.status_code == 200, role
        assert (response.json()["role"], response.json()["event"]) == (role, result["event"])


def test_the_demo_organizer_login_opens_the_admin(db):
    admin = json.loads(run_demo("--json"))["admin"]
    browser = Client()
    assert browser.login(username=admin["username"], password=admin["password"])
    assert browser.get("/admin/fieldops/route/").status_code == 200


def test_running_the_demo_again_replaces_it(db):
    first = json.loads(run_demo("--json"))
    second = json.loads(run_demo("--json"))

    assert Event.objects.filter(slug=second["event"]).count() == 1
    assert Route.objects.filter(event__slug=second["event"]).count() == 1
    old_code = first["invites"]["marshal"]["code"]
    response = Client().post("/api/join", {"code": old_code}, content_type="application/json")
    assert response.status_code == 400


def test_demo_without_json_prints_a_link_per_role_and_the_login(db):
    text = run_demo()
    for role in ROLES:
        assert f"  {role}" in text
    assert text.count("/join/") == len(ROLES)
    assert "/admin/" in text and "password" in text


def test_manage_py_demo_json_on_a_fresh_database(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "fieldops.settings.local",
        "PUBLIC_URL": "http://127.0.0.1:8123",
    }
    manage = [sys.executable, str(Path(__file__).resolve().parent.parent / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, timeout=120)
    done = subprocess.run(
        [*manage, "demo", "--json"], env=env, check=True, timeout=60, capture_output=True, text=True
    )

    result = json.loads(done.stdout)
    assert result["event"] == "demo-march"
    assert set(result["invites"]) == ROLES
    assert all(
        i["url"].startswith("http://127.0.0.1:8123/join/") for i in result["invites"].values()
    )
