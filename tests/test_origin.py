"""Browser sockets come only from the public origin: scheme, host and port, not the host alone.

A page elsewhere (another site, another port on the same host, plain http next to https) cannot open a
socket that carries a joined browser's session. Devices send no Origin and pass on their token.
"""

import pytest
from django.test import override_settings

from .conftest import communicator_for

PUBLIC = "http://127.0.0.1:8000"
# The allowed hosts hold the public host and localhost: the host alone lets nothing in.
ALLOWED = {
    "PUBLIC_URL": PUBLIC,
    "CSRF_TRUSTED_ORIGINS": [],
    "ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
}


async def handshake(cast, token: str, origin: str | None) -> bool:
    """Whether a socket with this Origin header (or none) is accepted; closes it either way."""
    headers = [(b"origin", origin.encode())] if origin is not None else []
    client = communicator_for(cast.organizer, token=token, headers=headers)
    connected, _ = await client.connect()
    if connected:
        assert (await client.receive_json_from())["type"] == "hello"
    await client.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://127.0.0.1:8001",
        "http://127.0.0.1",
        "https://127.0.0.1:8000",
        "http://localhost:8000",
        "http://127.0.0.1.evil.example:8000",
        "null",
        "http://127.0.0.1:notaport",
        "http://[::1",  # cannot be parsed
    ],
)
async def test_a_socket_from_any_other_origin_is_refused(cast, tokens, origin):
    with override_settings(**ALLOWED):
        assert not await handshake(cast, tokens["organizer"], origin)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", [PUBLIC, "HTTP://127.0.0.1:8000"])
async def test_a_socket_from_the_public_origin_is_accepted(cast, tokens, origin):
    with override_settings(**ALLOWED):
        assert await handshake(cast, tokens["organizer"], origin)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        ("https://fieldops.example.org", True),
        ("https://fieldops.example.org:443", True),
        ("https://FieldOps.Example.org", True),
        ("https://fieldops.example.org:8443", False),
        ("http://fieldops.example.org", False),
        ("https://sub.fieldops.example.org", False),
    ],
)
async def test_the_public_origin_is_compared_with_its_default_port(cast, tokens, origin, accepted):
    with override_settings(PUBLIC_URL="https://fieldops.example.org/", CSRF_TRUSTED_ORIGINS=[]):
        assert await handshake(cast, tokens["organizer"], origin) is accepted


@pytest.mark.django_db(transaction=True)
async def test_a_device_that_sends_no_origin_is_accepted(cast, tokens):
    with override_settings(**ALLOWED):
        assert await handshake(cast, tokens["organizer"], None)


@pytest.mark.django_db(transaction=True)
async def test_a_trusted_origin_is_held_to_its_port_and_scheme_too(cast, tokens):
    trusted = ["https://ops.example.net:8443", "https://*.example.com"]
    with override_settings(PUBLIC_URL=PUBLIC, CSRF_TRUSTED_ORIGINS=trusted):
        assert await handshake(cast, tokens["organizer"], "https://ops.example.net:8443")
        assert await handshake(cast, tokens["organizer"], "https://field.example.com")
        assert not await handshake(cast, tokens["organizer"], "https://ops.example.net")
        assert not await handshake(cast, tokens["organizer"], "http://field.example.com")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "path", ["/ws/events/", "/ws/events/a/b/", "/ws/events/sp ace/", "/ws/other/", "/ws/events/x"]
)
async def test_a_socket_at_any_other_address_is_refused_before_it_opens(cast, tokens, path):
    from channels.testing import WebsocketCommunicator

    from fieldops.asgi import application

    headers = [(b"authorization", f"Bearer {tokens['organizer']}".encode())]
    client = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await client.connect()
    assert not connected
    await client.disconnect()
