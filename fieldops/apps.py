from django.apps import AppConfig


class FieldopsConfig(AppConfig):
    name = "fieldops"
    verbose_name = "Fieldops"

    def ready(self):
        from fieldops import (
            checks,  # noqa: F401  (registers the deployment's system checks)
            signals,  # noqa: F401  (connects the receivers)
            tiles,  # noqa: F401  (registers its system check)
        )
        from fieldops.services import push  # noqa: F401  (registers the Web Push checks)
