from django.apps import AppConfig


class FieldopsConfig(AppConfig):
    name = "fieldops"
    verbose_name = "Fieldops"

    def ready(self):
        from fieldops import (
            signals,  # noqa: F401  (connects the receivers)
            tiles,  # noqa: F401  (registers its system check)
        )
