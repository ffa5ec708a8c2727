"""The schema in one step: it replaces migrations 0001 to 0014, so a database that has applied them all
counts this one as applied, and a new database runs only this (docs/deploy.md, "Updating")."""

import datetime
import django.db.models.deletion
import django.utils.timezone
import sessions_app.models
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [
        ('sessions_app', '0001_initial'),
        ('sessions_app', '0002_chat'),
        ('sessions_app', '0003_caller_mic'),
        ('sessions_app', '0004_media_workers'),
        ('sessions_app', '0005_phone_channel'),
        ('sessions_app', '0006_calling_hours_help'),
        ('sessions_app', '0007_ivr_state'),
        ('sessions_app', '0008_sip_worker'),
        ('sessions_app', '0009_participant_indexes'),
        ('sessions_app', '0010_participant_accept_index'),
        ('sessions_app', '0011_trunk_inbound_security'),
        ('sessions_app', '0012_agent_token_revocation'),
        ('sessions_app', '0013_session_ivr_and_line_deadlines'),
        ('sessions_app', '0014_start_limits'),
    ]

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Tenant',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
                ('sdk_app_id', models.CharField(max_length=32, unique=True, verbose_name='SdkAppId')),
                ('api_key', models.CharField(default=sessions_app.models.new_api_key, max_length=128, unique=True, verbose_name='API key')),
                ('allowed_origins', models.TextField(blank=True, help_text='One origin per line, e.g. https://crm.example.com; a port of * allows any port (http://127.0.0.1:*).')),
                ('cdr_webhook_url', models.URLField(blank=True, verbose_name='CDR webhook')),
                ('cdr_secret', models.CharField(default=sessions_app.models.new_api_key, help_text='Key of the HMAC-SHA256 signature sent with every CDR push.', max_length=128, verbose_name='CDR signing secret')),
                ('protect_numbers', models.BooleanField(default=False, help_text="Agents see protectedCaller/protectedCallee ids instead of customers' phone numbers.", verbose_name='number mapping')),
                ('outbound_per_5_minutes', models.PositiveIntegerField(default=3, help_text='At most this many outbound calls to one number within any 5 minutes.')),
                ('outbound_per_day', models.PositiveIntegerField(default=5, help_text='At most this many outbound calls to one number within any 24 hours.')),
                ('calling_hours_start', models.TimeField(default=datetime.time(9, 0), help_text='Outbound calls start at (local time).')),
                ('calling_hours_end', models.TimeField(default=datetime.time(21, 0), help_text='Outbound calls end at (local time); the same as the start: all day.')),
            ],
        ),
        migrations.CreateModel(
            name='SkillGroup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
                ('kind', models.CharField(choices=[('phone', 'Phone'), ('im', 'Web chat'), ('voip', 'Web audio'), ('video', 'Web video')], max_length=8)),
                ('routing_strategy', models.CharField(choices=[('longest_idle', 'Longest idle'), ('round_robin', 'Round robin'), ('fewest_served', 'Fewest served today'), ('skill_priority', 'Skill priority')], default='longest_idle', max_length=16)),
                ('ring_timeout', models.PositiveIntegerField(default=8, help_text='0 rings until someone answers.', verbose_name='ring timeout (s)')),
                ('wrap_up_seconds', models.PositiveIntegerField(default=15, verbose_name='wrap-up (s)')),
                ('max_queue_wait', models.PositiveIntegerField(default=300, verbose_name='maximum queue wait (s)')),
                ('caller_numbers', models.TextField(blank=True, help_text='Outbound caller numbers bound to this group, one per line.')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='skill_groups', to='sessions_app.tenant')),
            ],
            options={
                'unique_together': {('tenant', 'name')},
            },
        ),
        migrations.CreateModel(
            name='WebProcess',
            fields=[
                ('id', models.CharField(max_length=32, primary_key=True, serialize=False)),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_seen', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
            ],
        ),
        migrations.CreateModel(
            name='MediaWorker',
            fields=[
                ('id', models.CharField(max_length=32, primary_key=True, serialize=False)),
                ('channel_name', models.CharField(max_length=200)),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_seen', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('calls', models.PositiveIntegerField(default=0, help_text='Calls with legs on it at its last heartbeat.')),
                ('carries_sip', models.BooleanField(default=False, help_text='It runs the SIP gateway: phone calls live on it.')),
            ],
        ),
        migrations.CreateModel(
            name='NumberLocation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('prefix', models.CharField(max_length=32, unique=True)),
                ('location', models.CharField(max_length=128)),
            ],
        ),
        migrations.CreateModel(
            name='Agent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('user_id', models.CharField(help_text="The agent's account as the SDK names it.", max_length=128, verbose_name='userId')),
                ('nickname', models.CharField(blank=True, max_length=100)),
                ('staff_number', models.CharField(blank=True, max_length=32)),
                ('mobile', models.CharField(blank=True, max_length=32)),
                ('chat_capacity', models.PositiveIntegerField(default=5)),
                ('status', models.CharField(choices=[('offline', 'Offline'), ('free', 'Free'), ('rest', 'Rest'), ('arrange', 'After-call work'), ('notReady', 'Not ready')], default='offline', max_length=10)),
                ('status_since', models.DateTimeField(default=django.utils.timezone.now)),
                ('rest_reason', models.CharField(blank=True, max_length=128)),
                ('available_since', models.DateTimeField(blank=True, help_text='When the agent last became free to take a call.', null=True)),
                ('last_offered_at', models.DateTimeField(blank=True, null=True)),
                ('offline_deadline', models.DateTimeField(blank=True, null=True)),
                ('arrange_deadline', models.DateTimeField(blank=True, null=True)),
                ('token_generation', models.PositiveIntegerField(default=0, editable=False, help_text='Carried in every login and resume token; raising it revokes them all (services/logins.py).')),
                ('account', models.OneToOneField(help_text='The Django user the agent logs in with.', on_delete=django.db.models.deletion.CASCADE, related_name='agent', to=settings.AUTH_USER_MODEL)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='agents', to='sessions_app.tenant')),
            ],
            options={
                'indexes': [models.Index(fields=['offline_deadline'], name='sessions_ap_offline_357942_idx'), models.Index(fields=['arrange_deadline'], name='sessions_ap_arrange_1cdbc3_idx')],
                'unique_together': {('tenant', 'user_id')},
            },
        ),
        migrations.CreateModel(
            name='AgentSkill',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('priority', models.PositiveSmallIntegerField(default=1, help_text='1 is offered first (skill priority routing).')),
                ('agent', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='sessions_app.agent')),
                ('skill_group', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='sessions_app.skillgroup')),
            ],
            options={
                'unique_together': {('agent', 'skill_group')},
            },
        ),
        migrations.AddField(
            model_name='agent',
            name='skill_groups',
            field=models.ManyToManyField(related_name='agents', through='sessions_app.AgentSkill', to='sessions_app.skillgroup'),
        ),
        migrations.CreateModel(
            name='AgentConnection',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('channel_name', models.CharField(max_length=200, unique=True)),
                ('opened_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('agent', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='connections', to='sessions_app.agent')),
                ('process', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='connections', to='sessions_app.webprocess')),
            ],
        ),
        migrations.CreateModel(
            name='Session',
            fields=[
                ('id', models.CharField(default=sessions_app.models.new_session_id, editable=False, max_length=64, primary_key=True, serialize=False)),
                ('type', models.CharField(choices=[('phone', 'Phone'), ('im', 'Web chat'), ('voip', 'Web audio'), ('video', 'Web video'), ('internal', 'Internal')], max_length=8)),
                ('direction', models.CharField(choices=[('in', 'Inbound'), ('out', 'Outbound')], default='in', max_length=3)),
                ('state', models.CharField(choices=[('ivr', 'In the IVR'), ('queued', 'Queued'), ('ringing', 'Ringing'), ('active', 'Active'), ('ended', 'Ended')], default='queued', max_length=8)),
                ('caller_phone_number', models.CharField(blank=True, max_length=64)),
                ('callee_phone_number', models.CharField(blank=True, max_length=64)),
                ('caller_location', models.CharField(blank=True, max_length=128)),
                ('remark', models.CharField(blank=True, max_length=1024)),
                ('ivr_path', models.JSONField(blank=True, default=list)),
                ('protected_caller', models.CharField(blank=True, max_length=64)),
                ('protected_callee', models.CharField(blank=True, max_length=64)),
                ('nickname', models.CharField(blank=True, max_length=128)),
                ('avatar', models.CharField(blank=True, max_length=1024)),
                ('peer_source', models.CharField(blank=True, max_length=128)),
                ('channel_name', models.CharField(blank=True, max_length=128)),
                ('client_data', models.CharField(blank=True, max_length=1024)),
                ('callee', models.CharField(blank=True, max_length=128)),
                ('callee_remark', models.CharField(blank=True, max_length=128)),
                ('customer_user_id', models.CharField(blank=True, max_length=128, verbose_name='userId')),
                ('uui', models.CharField(blank=True, max_length=1024)),
                ('transferred_by', models.CharField(blank=True, help_text="userId of a pending transfer's sender.", max_length=128)),
                ('visitor_id', models.CharField(blank=True, help_text="The web visitor's id, kept by their browser.", max_length=64)),
                ('client_address', models.CharField(blank=True, help_text="The web customer's network address.", max_length=45)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('queued_at', models.DateTimeField(blank=True, null=True)),
                ('ring_at', models.DateTimeField(blank=True, null=True)),
                ('accepted_at', models.DateTimeField(blank=True, null=True)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('end_status', models.CharField(blank=True, max_length=24)),
                ('close_by', models.CharField(blank=True, choices=[('seat', 'Agent'), ('client', 'Customer'), ('admin', 'System')], max_length=6)),
                ('duration', models.FloatField(blank=True, help_text='Seconds from accept to end.', null=True)),
                ('ivr_deadline', models.DateTimeField(blank=True, help_text='The latest a caller leaves the IVR.', null=True)),
                ('line_deadline', models.DateTimeField(blank=True, help_text="A trunk call's: the latest its SIP gateway confirms it carries it.", null=True)),
                ('offer_deadline', models.DateTimeField(blank=True, null=True)),
                ('queue_deadline', models.DateTimeField(blank=True, null=True)),
                ('on_hold', models.BooleanField(default=False)),
                ('mic_muted', models.BooleanField(default=False, help_text="The serving agent's microphone.")),
                ('caller_mic_muted', models.BooleanField(default=False, help_text="The calling agent's, in an internal call.")),
                ('media_worker', models.CharField(blank=True, help_text='The media worker carrying its legs.', max_length=32)),
                ('video_muted', models.BooleanField(default=False)),
                ('agent', models.ForeignKey(blank=True, help_text='The agent ringing or serving now.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='sessions', to='sessions_app.agent')),
                ('caller_agent', models.ForeignKey(blank=True, help_text='The agent who placed an internal or outbound call.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='sessions_app.agent')),
                ('skill_group', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='sessions_app.skillgroup')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sessions', to='sessions_app.tenant')),
            ],
            options={
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['state', 'skill_group', 'queued_at'], name='sessions_ap_state_fc13c4_idx'), models.Index(fields=['offer_deadline'], name='sessions_ap_offer_d_13bf0e_idx'), models.Index(fields=['queue_deadline'], name='sessions_ap_queue_d_be2cc8_idx'), models.Index(fields=['ivr_deadline'], name='session_ivr_deadline'), models.Index(fields=['line_deadline'], name='session_line_deadline'), models.Index(fields=['visitor_id', 'created_at'], name='sessions_ap_visitor_0b30a2_idx'), models.Index(fields=['client_address', 'created_at'], name='sessions_ap_client__63fe16_idx')],
            },
        ),
        migrations.CreateModel(
            name='SessionEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
                ('what', models.CharField(max_length=200)),
                ('session', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='timeline', to='sessions_app.session')),
            ],
            options={
                'ordering': ['at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='ChatMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.PositiveIntegerField()),
                ('sender', models.CharField(choices=[('visitor', 'Visitor'), ('agent', 'Agent'), ('system', 'System')], max_length=8)),
                ('text', models.TextField()),
                ('client_id', models.CharField(blank=True, max_length=64)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('agent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='sessions_app.agent')),
                ('session', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='sessions_app.session')),
            ],
            options={
                'ordering': ['session', 'seq'],
                'constraints': [models.UniqueConstraint(fields=('session', 'seq'), name='chat_message_seq'), models.UniqueConstraint(condition=models.Q(('client_id', ''), _negated=True), fields=('session', 'sender', 'client_id'), name='chat_message_client_id')],
            },
        ),
        migrations.CreateModel(
            name='ChatReadMark',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('visitor_seq', models.PositiveIntegerField(default=0)),
                ('agent_seq', models.PositiveIntegerField(default=0)),
                ('session', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='read_mark', to='sessions_app.session')),
            ],
        ),
        migrations.CreateModel(
            name='Cdr',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('push_id', models.UUIDField(default=uuid.uuid4, unique=True)),
                ('payload', models.JSONField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('delivered_at', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(blank=True, help_text='Empty once delivered or if no webhook.', null=True)),
                ('last_error', models.CharField(blank=True, max_length=500)),
                ('session', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='cdr', to='sessions_app.session')),
            ],
            options={
                'verbose_name': 'CDR',
                'indexes': [models.Index(fields=['next_attempt_at'], name='sessions_ap_next_at_e283fb_idx')],
            },
        ),
        migrations.CreateModel(
            name='ServeParticipant',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sequence', models.PositiveIntegerField()),
                ('outcome', models.CharField(choices=[('ringing', 'Ringing'), ('accepted', 'Accepted'), ('timeout', 'Not answered in time'), ('rejected', 'Rejected'), ('cancelled', 'Offer withdrawn'), ('transferred', 'Transferred away'), ('ended', 'Ended')], default='ringing', max_length=12)),
                ('ring_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('accept_at', models.DateTimeField(blank=True, null=True)),
                ('end_at', models.DateTimeField(blank=True, null=True)),
                ('transfer_from', models.CharField(blank=True, help_text='userId who transferred it here.', max_length=128)),
                ('transfer_to', models.CharField(blank=True, help_text='userId or skill group it went to.', max_length=128)),
                ('completed_at', models.DateTimeField(blank=True, help_text='After-call work finished.', null=True)),
                ('hidden', models.BooleanField(default=False, help_text="Dropped from the agent's list by deleteCall.")),
                ('agent', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='participations', to='sessions_app.agent')),
                ('session', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='participants', to='sessions_app.session')),
                ('skill_group', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='sessions_app.skillgroup')),
            ],
            options={
                'ordering': ['session', 'sequence'],
                'indexes': [models.Index(fields=['session', 'agent'], name='sessions_ap_session_98fec4_idx'), models.Index(condition=models.Q(('completed_at__isnull', True)), fields=['agent'], name='participant_unfinished_work'), models.Index(fields=['agent', 'accept_at'], name='sessions_ap_agent_i_cbd918_idx')],
                'unique_together': {('session', 'sequence')},
            },
        ),
        migrations.CreateModel(
            name='RestReason',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('label', models.CharField(max_length=64)),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rest_reasons', to='sessions_app.tenant')),
            ],
            options={
                'ordering': ['position', 'label'],
                'unique_together': {('tenant', 'label')},
            },
        ),
        migrations.CreateModel(
            name='CannedResponse',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(max_length=100)),
                ('text', models.TextField(max_length=2000)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='canned_responses', to='sessions_app.tenant')),
            ],
            options={
                'ordering': ['title'],
            },
        ),
        migrations.CreateModel(
            name='NumberGroup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
                ('numbers', models.TextField(help_text='One number per line.')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='number_groups', to='sessions_app.tenant')),
            ],
        ),
        migrations.CreateModel(
            name='ProtectedNumber',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.CharField(max_length=64)),
                ('protected_id', models.CharField(max_length=64, unique=True)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='protected_numbers', to='sessions_app.tenant')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('tenant', 'number'), name='one_id_per_number')],
            },
        ),
        migrations.CreateModel(
            name='IvrMenu',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
                ('prompt_text', models.TextField(blank=True, help_text='Spoken by espeak-ng when no audio file is uploaded.')),
                ('prompt_audio', models.FileField(blank=True, help_text='A WAV file; replaces the text.', upload_to='ivr/')),
                ('timeout_seconds', models.PositiveIntegerField(default=5, help_text='Wait this long for a key after the prompt.')),
                ('max_retries', models.PositiveIntegerField(default=2, help_text='Prompts repeated on no or an invalid key.')),
                ('invalid_text', models.CharField(default='Sorry, that is not one of the choices.', max_length=255)),
                ('goodbye_text', models.CharField(default='Goodbye.', max_length=255)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ivr_menus', to='sessions_app.tenant')),
            ],
        ),
        migrations.CreateModel(
            name='IvrKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(choices=[('1', '1'), ('2', '2'), ('3', '3'), ('4', '4'), ('5', '5'), ('6', '6'), ('7', '7'), ('8', '8'), ('9', '9'), ('0', '0'), ('*', '*'), ('#', '#')], max_length=1)),
                ('label', models.CharField(help_text="What the key means; becomes ivrPath's label.", max_length=64)),
                ('menu', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='keys', to='sessions_app.ivrmenu')),
                ('next_menu', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='sessions_app.ivrmenu')),
                ('skill_group', models.ForeignKey(blank=True, limit_choices_to={'kind': 'phone'}, null=True, on_delete=django.db.models.deletion.SET_NULL, to='sessions_app.skillgroup')),
            ],
            options={
                'ordering': ['menu', 'key'],
                'constraints': [models.UniqueConstraint(fields=('menu', 'key'), name='one_choice_per_key')],
            },
        ),
        migrations.CreateModel(
            name='Hotline',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.CharField(max_length=64, unique=True)),
                ('ivr_menu', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='sessions_app.ivrmenu')),
                ('skill_group', models.ForeignKey(blank=True, help_text='Without an IVR menu: this queue.', limit_choices_to={'kind': 'phone'}, null=True, on_delete=django.db.models.deletion.SET_NULL, to='sessions_app.skillgroup')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='hotlines', to='sessions_app.tenant')),
            ],
        ),
        migrations.CreateModel(
            name='Trunk',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
                ('host', models.CharField(help_text="The provider's SIP server (name or address).", max_length=255)),
                ('port', models.PositiveIntegerField(default=5060)),
                ('transport', models.CharField(choices=[('udp', 'UDP'), ('tcp', 'TCP')], default='udp', max_length=3)),
                ('username', models.CharField(blank=True, help_text="For the provider's digest challenges.", max_length=128)),
                ('password', models.CharField(blank=True, max_length=128)),
                ('enabled', models.BooleanField(default=True)),
                ('allowed_sources', models.TextField(blank=True, help_text='Addresses and CIDRs the trunk sends its INVITEs from, separated by commas or lines (203.0.113.5, 198.51.100.0/24; 0.0.0.0/0, ::/0 for anywhere). With none here nor in SIP_ALLOW, only this machine may call.')),
                ('inbound_username', models.CharField(blank=True, help_text='If set, INVITEs from this trunk must answer a digest challenge with this username and the password below.', max_length=128)),
                ('inbound_password', models.CharField(blank=True, max_length=128)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='trunks', to='sessions_app.tenant')),
            ],
        ),
    ]
