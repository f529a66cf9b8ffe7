"""The kit that drives a running Fieldops (fieldops/kit/): its launcher and its protocol client,
against a real worker."""

import asyncio
import subprocess
import sys
import uuid

import pytest

from fieldops.kit.client import Client, RefusedError
from fieldops.kit.launcher import launch
from fieldops.kit.processes import ROOT

pytestmark = pytest.mark.multiworker

ALERT = {"text": "Regroup at the fountain", "audience": "public", "level": "info"}


@pytest.fixture(scope="module")
def running():
    with launch(servers=("daphne", "uvicorn"), redis=True) as stack:
        yield stack


def test_the_kit_imports_nothing_of_the_server():
    code = (
        "import sys, fieldops.kit.client, fieldops.kit.launcher, fieldops.kit.nginx; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'channels', 'marshals', 'realtime') or "
        "(m.startswith('fieldops.') and not m.startswith('fieldops.kit'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_launcher_starts_every_worker_through_deploy_worker_on_loopback(running):
    assert [w.cmd[0] for w in running.workers] == [str(ROOT / "deploy" / "worker")] * 2
    assert [w.env["FIELDOPS_SERVER"] for w in running.workers] == ["daphne", "uvicorn"]
    assert running.env["REDIS_URL"] == f"redis://127.0.0.1:{running.redis.port}/0"
    assert all(url.startswith("ws://127.0.0.1:") for url in running.ws_urls())


def test_the_launcher_leaves_nothing_behind():
    with launch(servers=("daphne",), redis=False) as stack:
        tmp, worker = stack.tmp, stack.workers[0]
        assert "REDIS_URL" not in stack.env
    assert not tmp.exists()
    assert worker.proc.poll() is not None


async def _act_and_resume(running) -> None:
    token = running.join("organizer", f"kit-{uuid.uuid4().hex[:6]}")["token"]
    first = await Client.open(running.ws_url(0), token=token)
    try:
        ack = await first.act("alert.send", ALERT, frame_id=uuid.uuid4())
        entry = await first.wait_for(lambda e: e["seq"] == ack["seq"])
        assert entry["type"] == "alert.sent"
        again = await first.act("alert.send", ALERT, frame_id=ack["id"])
        assert again == ack  # a resend is answered with the original ack
        with pytest.raises(RefusedError) as refused:
            await first.act("alert.send", {"text": ""})
        assert refused.value.frame["code"] == "invalid"
        with pytest.raises(TimeoutError):
            await first.collect(upto=ack["seq"] + 1, timeout=0.5)
        later = (await first.act("alert.send", ALERT))["seq"]
    finally:
        await first.close()
    # On the other worker, from `since`: exactly what was missed, then live again.
    resumed = await Client.open(running.ws_url(1), token=token, since=ack["seq"])
    try:
        await resumed.until(lambda: resumed.replayed is not None)
        assert resumed.replayed["count"] == 1 and resumed.seqs == [later]
        live = (await resumed.act("alert.send", ALERT))["seq"]
        assert [e["seq"] for e in await resumed.collect(upto=live)] == [later, live]
    finally:
        await resumed.close()


def test_the_client_acts_awaits_acks_and_resumes_from_since(running):
    asyncio.run(asyncio.wait_for(_act_and_resume(running), 120))


async def _closed(running) -> int:
    marshal = running.join("marshal", "kit-revoked")
    organizer = running.join("organizer", "kit-revoker")["token"]
    victim = await Client.open(running.ws_url(1), token=marshal["token"])
    body = {"participant": marshal["participant"]}
    await asyncio.to_thread(
        running.http, 0, "POST", f"/api/events/{running.slug}/revocations",
        token=organizer, body=body,
    )  # fmt: skip
    code = await victim.closed()
    with pytest.raises(ConnectionError):
        await victim.until(lambda: False, timeout=5)
    return code


def test_the_client_reports_the_close_code_when_the_server_closes(running):
    assert asyncio.run(asyncio.wait_for(_closed(running), 120)) == 4403
