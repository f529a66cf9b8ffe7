"""The shipped nginx site (deploy/nginx.conf) while workers restart one after another: a request goes
to whichever worker is up, at once.

Two small HTTP servers stand in for the workers, so the test is about nginx alone and takes seconds.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fieldops.kit.launcher import start_proxy
from fieldops.kit.processes import free_port

from .test_deployment_logs import Site


class Worker:
    """A stand-in worker on a fixed port that answers every GET and POST with its name."""

    def __init__(self, name: str):
        self.name, self.port = name, free_port()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        name = self.name.encode()

        class Answer(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                self.send_response(200)
                self.send_header("Content-Length", str(len(name)))
                self.end_headers()
                self.wfile.write(name)

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.do_GET()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Answer)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """As a restarting worker: its port refuses connections until it starts again."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def workers():
    both = [Worker("a"), Worker("b")]
    try:
        for worker in both:
            worker.start()
        yield both
    finally:
        for worker in both:
            worker.stop()


@pytest.fixture
def site(tmp_path, workers):
    procs = []
    try:
        front = ([w.port for w in workers], free_port(), free_port(), tmp_path / "nginx")
        proxy = start_proxy(front, tmp_path, procs)
        yield Site(proxy.origin, proxy.certificate)
    finally:
        for proc in procs:
            proc.stop()


def test_a_worker_back_from_a_restart_takes_requests_at_once_when_the_next_one_restarts(
    workers, site, tmp_path
):
    """A rolling restart: `a` restarts while requests come in, is back, then `b` restarts.

    nginx counts a refused connection against a worker and, by default, sends it nothing for the
    next 10 s. `a`, back and ready, would still count as down when `b` goes, and nginx would answer
    502 to everyone ("no live upstreams") until then.
    """
    a, b = workers
    a.stop()
    for _ in range(4):
        assert site.send("GET", "/api/events/demo") == (200, b"b")
    a.start()
    b.stop()
    for _ in range(4):
        assert site.send("GET", "/api/events/demo") == (200, b"a")
        assert site.send("POST", "/api/events/demo/alerts", body={"text": "x"}) == (200, b"a")
    # nginx takes equally busy workers in turn, so some requests met `b` refusing first and were
    # passed on: a POST too, as a refused request was never sent.
    log = (tmp_path / "nginx" / "fieldops.access.log").read_text().splitlines()
    assert any(" POST " in line and " 502, 200 " in line for line in log), log[-8:]
