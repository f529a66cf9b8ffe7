"""Web Push subscriptions: endpoint and keys sealed with the event's data key."""

import django.db.models.deletion
import fieldops.crypto
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('fieldops', '0007_push'),
        ('marshals', '0002_retention'),
    ]

    operations = [
        migrations.CreateModel(
            name='PushSubscription',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('endpoint', fieldops.crypto.EncryptedTextField()),
                ('p256dh', fieldops.crypto.EncryptedTextField()),
                ('auth', fieldops.crypto.EncryptedTextField()),
                ('endpoint_hash', models.CharField(editable=False, max_length=64)),
                ('language', models.CharField(blank=True, max_length=12)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('last_ok_at', models.DateTimeField(blank=True, null=True)),
                ('event', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='fieldops.event')),
                ('participant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='push_subscriptions', to='marshals.participant')),
            ],
            options={
                'ordering': ['event', 'pk'],
                'indexes': [models.Index(fields=['event', 'endpoint_hash'], name='push_sub_endpoint')],
                'constraints': [models.UniqueConstraint(fields=('participant', 'endpoint_hash'), name='unique_push_subscription')],
            },
        ),
    ]
