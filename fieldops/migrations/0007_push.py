"""Web Push: whether an event sends it, and how far each event's journal has been pushed."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('fieldops', '0006_merge_audit_retention'),
    ]

    operations = [
        migrations.CreateModel(
            name='PushCursor',
            fields=[
                ('event', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='push_cursor', serialize=False, to='fieldops.event')),
                ('seq', models.PositiveBigIntegerField()),
            ],
        ),
        migrations.AddField(
            model_name='event',
            name='push_enabled',
            field=models.BooleanField(default=True, help_text='Send Web Push notifications to those who asked for them.'),
        ),
    ]
