from django.apps import AppConfig


class MarshalsConfig(AppConfig):
    name = "marshals"
    verbose_name = "People in the field"
