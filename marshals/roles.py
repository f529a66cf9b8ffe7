"""The roles a participant can have. Below every other layer (it imports no Fieldops module), so
the inbound schemas, the visibility rules and the models all name roles by these members."""

from django.db import models


class Role(models.TextChoices):
    ORGANIZER = "organizer", "Organizer"
    MARSHAL = "marshal", "Marshal"
    LEGAL = "legal", "Legal observer"
    MEDIC = "medic", "Medic"
    MARCHER = "marcher", "Marcher"
