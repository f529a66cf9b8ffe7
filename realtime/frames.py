"""Server frames, serialized with orjson."""

import orjson

CLOSE_UNAUTHENTICATED = 4401
CLOSE_REVOKED = 4403
CLOSE_BEHIND = 4408  # the socket did not read what it was sent: reconnect and resume
CLOSE_RESCOPED = 4409  # the participant's role or group changed: reconnect to hold the new one
CLOSE_TOO_MANY = 4429  # this credential has too many sockets open on this server
CLOSE_UNAVAILABLE = 4503  # the database did not answer: try again later, with backoff


def dumps(frame: dict) -> str:
    return orjson.dumps(frame, default=str).decode()


def hello(*, participant, event_slug: str, seq: int) -> str:
    return dumps(
        {
            "type": "hello",
            "data": {
                "protocol": 1,
                "event": event_slug,
                "participant": participant.pk,
                "callsign": participant.callsign,
                "role": participant.role,
                "group": participant.group_id,
                "seq": seq,
            },
        }
    )


def ack(*, frame_id, seq: int | None) -> str:
    return dumps({"type": "ack", "id": str(frame_id), "seq": seq})


def pong(*, frame_id) -> str:
    return dumps({"type": "pong", "id": str(frame_id)})


def replay_done(*, frame_id, seq: int, count: int) -> str:
    # `id` is null for a resume asked for in the connect request (`?since=`).
    frame_id = str(frame_id) if frame_id is not None else None
    return dumps({"type": "replay.done", "id": frame_id, "seq": seq, "count": count})


def error(*, frame_id, code: str, message: str, fields: list[dict] | None = None) -> str:
    return dumps(
        {
            "type": "error",
            "id": str(frame_id) if frame_id is not None else None,
            "code": code,
            "message": message,
            "fields": fields or [],
        }
    )
