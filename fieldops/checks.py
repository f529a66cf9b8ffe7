"""System checks on how the deployment is put together (`manage.py check`)."""

from django.conf import settings
from django.core import checks

MSG_WORKERS_WITHOUT_REDIS = (
    "FIELDOPS_WORKERS is {workers} but there is no REDIS_URL: each worker has its own in-memory "
    "channel layer, so nothing written through one worker reaches the sockets of another."
)
HINT_WORKERS_WITHOUT_REDIS = (
    "Set REDIS_URL (docs/deployment.md), or run a single worker (FIELDOPS_WORKERS=1)."
)


@checks.register(checks.Tags.compatibility)
def workers_share_a_channel_layer(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Several workers, as FIELDOPS_WORKERS counts them, need Redis between them."""
    workers = settings.FIELDOPS["WORKERS"]
    in_memory = "InMemory" in settings.CHANNEL_LAYERS["default"]["BACKEND"]
    if workers > 1 and in_memory:
        return [
            checks.Warning(
                MSG_WORKERS_WITHOUT_REDIS.format(workers=workers),
                hint=HINT_WORKERS_WITHOUT_REDIS,
                id="fieldops.W102",
            )
        ]
    return []
