"""What the ASGI server holds for one socket, which ASGI itself does not show.

A socket whose phone stopped reading must not cost the worker memory without bound (daphne buffers
every frame it is given) nor hold up other sockets (uvicorn's `send` waits while the socket's buffer
is over its high-water mark). Each server's `send` callable leads to its protocol object; this
module reads the bytes waiting there and can abort the connection. It follows daphne 4.2 (Twisted)
and uvicorn 0.54 (websockets sans-I/O), both pinned in requirements.txt; for any other server it
returns None and delivery is unbounded, as stock Channels is (the tests' in-process communicator).
"""

import struct
from functools import partial

HIGH_WATER = 64 * 1024  # bytes waiting in the server before a socket counts as not reading now


class Transport:
    """The server's side of one socket: `ready()` runs for every entry delivered, so it is a
    method of its own per server, a couple of attribute reads."""

    __slots__ = ()  # one per open socket: no __dict__ each

    def ready(self) -> bool:
        """Whether the socket is taking what it is sent: the next entry goes out now."""
        raise NotImplementedError

    def can_send(self) -> bool:
        """Whether a frame can be handed to the server now without waiting (a close, say)."""
        return True

    def buffered(self) -> int:
        """Bytes the server holds for the socket, not yet taken by the network."""
        raise NotImplementedError

    def send_wire(self, wire: bytes) -> bool:
        """Write a whole text frame built by `wire_frame` to the socket now, as the server's own
        `send` would, when nothing stands in the way; False when the caller must use the ASGI
        `send` instead."""
        return False

    def release_handshake(self) -> None:
        """Let the server forget the opening handshake once the socket is open: it keeps the
        request and its response, headers and all, for the socket's life, and no one reads them
        again (the largest part of an idle socket's memory; docs/performance.md)."""

    def abort(self) -> None:
        """Drop the connection and what the server holds for it (nothing if already gone)."""
        try:
            self._abort()
        except Exception:  # noqa: S110 - the connection is already gone, which is the aim
            pass


class UvicornTransport(Transport):
    # uvicorn's protocol clears `writable` when asyncio pauses writing (its buffer over the
    # transport's high-water mark, 64 KiB), and its `send` then waits for it.
    __slots__ = ("writable", "transport", "_abort")

    def __init__(self, protocol) -> None:
        self.writable = protocol.writable
        self.transport = protocol.transport
        self._abort = protocol.transport.abort

    def ready(self) -> bool:
        return self.writable.is_set()

    def can_send(self) -> bool:
        return self.writable.is_set()

    def buffered(self) -> int:
        return self.transport.get_write_buffer_size()


class SansIOTransport(UvicornTransport):
    # uvicorn's websockets sans-I/O protocol: what it keeps of the opening handshake can go once
    # the socket is open. Entries take the ASGI `send` (SocketTransport writes them straight).
    __slots__ = ("protocol",)

    def __init__(self, protocol) -> None:
        super().__init__(protocol)
        self.protocol = protocol

    def release_handshake(self) -> None:
        # uvicorn reads its `request` and `response` only while it accepts (or refuses) the
        # handshake; once it has completed, both only hold memory. `websockets` keeps the request
        # too, in its parser's frame, out of reach: its headers are emptied in place.
        p = self.protocol
        if not p.handshake_complete:
            return
        for message in (getattr(p, "request", None), getattr(p, "response", None)):
            headers = getattr(message, "headers", None)
            if headers is not None:
                headers.clear()
        p.request = p.response = None


class SocketTransport(SansIOTransport):
    # realtime.sansio's protocol, as deploy/worker runs uvicorn: a journal entry is written as its
    # `send` writes a "websocket.send", without the ASGI message and the coroutines around it. A
    # server's frames are not masked, so with no extension a frame's bytes are the same for every
    # socket: an entry is framed once (`wire_frame`), not once per recipient. Whether the socket
    # takes a data frame now is the protocol's to say (`wire_open`, `wire_ready()`), in one place.
    __slots__ = ()

    def send_wire(self, wire: bytes) -> bool:
        p = self.protocol
        if p.wire_open or p.wire_ready():
            self.transport.write(wire)
            return True
        return False


class TwistedTransport(Transport):
    # daphne hands every frame to Twisted, which buffers it whatever its size: what it could not
    # write yet is in dataBuffer (from offset on) and _tempDataBuffer (_tempDataLen bytes).
    __slots__ = ("tcp", "_abort")

    def __init__(self, tcp) -> None:
        self.tcp = tcp
        self._abort = tcp.abortConnection

    def ready(self) -> bool:
        tcp = self.tcp
        return len(tcp.dataBuffer) - tcp.offset + tcp._tempDataLen < HIGH_WATER

    def buffered(self) -> int:
        tcp = self.tcp
        return len(tcp.dataBuffer) - tcp.offset + tcp._tempDataLen


def wire_frame(data: bytes) -> bytes:
    """One whole, final, unmasked text frame carrying `data` (RFC 6455, section 5.2)."""
    size = len(data)
    if size < 126:
        return bytes((0x81, size)) + data
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + data
    return struct.pack("!BBQ", 0x81, 127, size) + data


def transport_of(send) -> Transport | None:
    """The Transport behind an ASGI `send` callable, or None for a server this does not know."""
    protocol = getattr(send, "__self__", None)
    if hasattr(protocol, "writable") and hasattr(getattr(protocol, "transport", None), "abort"):
        conn = getattr(protocol, "conn", None)
        sansio = all(
            hasattr(protocol, name)
            for name in ("disconnected", "close_sent", "handshake_complete", "initial_response")
        ) and all(hasattr(conn, name) for name in ("send_text", "data_to_send"))
        if not sansio:
            return UvicornTransport(protocol)
        return (
            SocketTransport(protocol)
            if hasattr(protocol, "wire_ready")
            else SansIOTransport(protocol)
        )
    if isinstance(send, partial) and send.args:  # daphne: partial(server.handle_reply, protocol)
        tcp = getattr(send.args[0], "transport", None)
        if tcp is not None and hasattr(tcp, "_tempDataLen") and hasattr(tcp, "dataBuffer"):
            return TwistedTransport(tcp)
    return None
