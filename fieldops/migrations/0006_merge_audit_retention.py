from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('fieldops', '0005_audit'),
        ('fieldops', '0005_retention'),
    ]

    operations = []
