"""Check-in positions and notes sealed with the event's data key (values written before stay
readable)."""

import fieldops.crypto
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('marshals', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='checkin',
            name='lat',
            field=fieldops.crypto.EncryptedFloatField(),
        ),
        migrations.AlterField(
            model_name='checkin',
            name='lng',
            field=fieldops.crypto.EncryptedFloatField(),
        ),
        migrations.AlterField(
            model_name='checkin',
            name='note',
            field=fieldops.crypto.EncryptedTextField(blank=True, max_length=280),
        ),
    ]
