"""The event's service worker and web app manifest (fieldops/offline.py), and what the page config
tells the page scripts about working offline and Web Push (docs/pages.md, "Offline and
notifications"). The worker itself runs in tests/test_offline_browser.py."""

from datetime import datetime, timedelta

from django.test import Client
from django.utils import timezone

from fieldops.actions import REST_PATHS
from fieldops.offline import KEEP_AFTER_END, offline_config
from fieldops.services import webpush
from fieldops.services.push import push_public_key

from .test_field_pages import joined, page_config


def test_the_service_worker_is_served_under_the_event_page_and_never_from_the_http_cache(cast):
    reply = Client().get(f"/e/{cast.event.slug}/sw.js")
    assert reply.status_code == 200
    assert reply["Content-Type"].startswith("text/javascript")
    assert reply["Cache-Control"] == "no-cache"
    script = reply.content.decode()
    assert "self.FieldopsVault" in script and 'addEventListener("push"' in script
    # The Content-Security-Policy admits it (and the manifest), from this server only.
    policy = dict(d.strip().split(" ", 1) for d in reply["Content-Security-Policy"].split(";"))
    assert policy["worker-src"] == "'self'"
    assert policy["manifest-src"] == "'self'"


def test_the_manifest_opens_the_event_page_and_is_only_for_who_joined(cast):
    browser, _ = joined(cast, "marshal")
    url = f"/e/{cast.event.slug}/manifest.webmanifest"
    manifest = browser.get(url).json()
    assert manifest["name"] == cast.event.name
    assert manifest["start_url"] == manifest["scope"] == f"/e/{cast.event.slug}/"
    assert manifest["display"] == "standalone"
    assert {i["type"] for i in manifest["icons"]} == {"image/svg+xml", "image/png"}
    assert Client().get(url).status_code == 404
    assert 'rel="manifest"' in browser.get(f"/e/{cast.event.slug}/").content.decode()


def test_the_page_config_says_where_the_worker_is_what_it_sends_and_until_when(cast):
    config = page_config(joined(cast, "legal")[0], cast)
    offline = config["offline"]
    assert offline["worker"] == f"/e/{cast.event.slug}/sw.js"
    assert offline["scope"] == f"/e/{cast.event.slug}/"
    assert offline["paths"] == REST_PATHS
    assert offline["keep_until"] == (cast.event.ends_at + KEEP_AFTER_END).isoformat()


def test_the_page_offers_push_only_with_a_key_and_says_whether_the_event_sends_it(cast, settings):
    browser, _ = joined(cast, "marshal")
    settings.VAPID_PRIVATE_KEY = ""
    assert page_config(browser, cast)["push"] == {"key": None, "enabled": True}
    settings.VAPID_PRIVATE_KEY = webpush.vapid_key_generate()
    cast.event.push_enabled = False
    cast.event.save()
    assert page_config(browser, cast)["push"] == {"key": push_public_key(), "enabled": False}
    assert push_public_key()


def test_after_the_event_its_copy_is_kept_for_hours_from_the_last_opening(cast):
    cast.event.ends_at = timezone.now() - timedelta(days=3)
    keep_until = datetime.fromisoformat(offline_config(cast.event)["keep_until"])
    assert abs(keep_until - (timezone.now() + KEEP_AFTER_END)) < timedelta(minutes=1)
