"""Retention that erases: per-event data keys, what remains of a purged event, and the personal
columns sealed with the event's data key (values written before stay readable)."""

import django.db.models.deletion
import fieldops.crypto
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('fieldops', '0004_map_stamp'),
    ]

    operations = [
        migrations.AddField(
            model_name='event',
            name='purged_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='alert',
            name='text',
            field=fieldops.crypto.EncryptedTextField(max_length=500),
        ),
        migrations.AlterField(
            model_name='arrestrecord',
            name='agency',
            field=fieldops.crypto.EncryptedTextField(blank=True, max_length=120),
        ),
        migrations.AlterField(
            model_name='arrestrecord',
            name='lat',
            field=fieldops.crypto.EncryptedFloatField(),
        ),
        migrations.AlterField(
            model_name='arrestrecord',
            name='lng',
            field=fieldops.crypto.EncryptedFloatField(),
        ),
        migrations.AlterField(
            model_name='incident',
            name='description',
            field=fieldops.crypto.EncryptedTextField(blank=True, max_length=1000),
        ),
        migrations.AlterField(
            model_name='incident',
            name='lat',
            field=fieldops.crypto.EncryptedFloatField(),
        ),
        migrations.AlterField(
            model_name='incident',
            name='lng',
            field=fieldops.crypto.EncryptedFloatField(),
        ),
        migrations.AlterField(
            model_name='incidentchange',
            name='note',
            field=fieldops.crypto.EncryptedTextField(blank=True, event_path='incident.event_id', max_length=500),
        ),
        migrations.AlterField(
            model_name='journalentry',
            name='frame',
            field=fieldops.crypto.EncryptedTextField(),
        ),
        migrations.CreateModel(
            name='EventKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key_id', models.CharField(editable=False, max_length=16, unique=True)),
                ('wrapped', models.TextField(editable=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('event', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='data_key', to='fieldops.event')),
            ],
        ),
        migrations.CreateModel(
            name='EventTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.DateTimeField()),
                ('kind', models.CharField(max_length=60)),
                ('cell_lat', models.FloatField(blank=True, null=True)),
                ('cell_lng', models.FloatField(blank=True, null=True)),
                ('count', models.PositiveIntegerField()),
                ('event', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tallies', to='fieldops.event')),
            ],
            options={
                'ordering': ['event', 'hour', 'kind'],
            },
        ),
    ]
