#!/usr/bin/env python
"""Bounce latency: from the moment a bounce lands in a sandbox inbox (or the ESP decides it) to
the moment its event is in the rep's live feed, per channel kind — Gmail with push, Outlook with
push, an SMTP channel behind a SendGrid-style webhook, an SMTP channel whose mailbox is read by
IMAP with IDLE held, an Exchange On-Prem mailbox with an EWS stream held — against polling
only; and the provider API calls an idle mailbox costs per day with push and with polling only
(for the EWS stream counted from its schedule: one GetStreamingEvents per STREAM_MINUTES, one
Subscribe, the hourly safety poll).

    .venv/bin/python bench/bounce_latency.py            # 20 bounces per kind

In one process: the sandbox, Mailroom's web app on a threaded WSGI server (Celery tasks run
inline, as the push endpoints queue them), a temporary SQLite database. For each kind it sends
one email at a time to an address the sandbox bounces and waits for the feed event; t0 is the
sandbox's own time stamp (the bounce's internal date in the inbox, or the ESP event's time),
t1 the feed event's creation.

Polling only: a bounce waits for the next poll of the 5-minute cycle (uniform over it), plus
the poll itself, measured here on the same kind of mailbox; the figure is that wait's median
and p95 plus the median poll time. API calls per idle day: 288 cycles of the real fan-out (5
minutes apart, the clock moved with time-machine) and the hourly push renewal, each due mailbox
polled, counting the sandbox's Gmail and Graph API calls (token refreshes excluded)."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = tempfile.mkdtemp(prefix="mailroom-latency-")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{TMP}/latency.sqlite3",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
)

TOPIC = "projects/mailroom-bench/topics/gmail-push"
SERVICE_ACCOUNT = "gmail-push@mailroom-bench.iam.gserviceaccount.com"
POLL_INTERVAL = 300.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:  # noqa: C901, PLR0915 - one straight script
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bounces", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    from sandbox.server import start_sandbox

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    sandbox = start_sandbox()

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=True)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_port
    web = f"http://127.0.0.1:{port}"

    for name, value in sandbox.settings().items():
        setattr(settings, name, value)
    settings.ALLOWED_HOSTS = ["*"]
    settings.MAILROOM_GMAIL_PUSH_TOPIC = TOPIC
    settings.MAILROOM_GMAIL_PUSH_AUDIENCE = f"{web}/webhooks/gmail/push/"
    settings.MAILROOM_GMAIL_PUSH_SERVICE_ACCOUNT = SERVICE_ACCOUNT
    settings.MAILROOM_GRAPH_NOTIFICATION_URL = f"{web}/webhooks/graph/notify/"
    settings.MAILROOM_GRAPH_LIFECYCLE_URL = f"{web}/webhooks/graph/lifecycle/"
    from bounces.conf import bounce_settings

    bounce_settings.cache_clear()
    sandbox.client.pubsub_subscribe(
        TOPIC, endpoint=settings.MAILROOM_GMAIL_PUSH_AUDIENCE, service_account=SERVICE_ACCOUNT
    )

    import time_machine

    from analytics.models import FeedEvent
    from bounces.models import EspEvent
    from bounces.polling import channel_poll, channels_poll_fan_out
    from channels_app.models import ChannelChoice, DeliveryChannel
    from channels_app.providers.esp import WEBHOOK_USERNAME
    from channels_app.push import channel_push_start, channels_push_renew_due
    from channels_app.sending.services import channel_drain
    from channels_app.services import channel_esp_webhook_set
    from outreach.services import email_enqueue
    from tests.bounces.poll_helpers import connect
    from tests.factories import OrganizationFactory, TeamFactory, UserFactory

    kind_gmail, kind_outlook = DeliveryChannel.Kind.GMAIL, DeliveryChannel.Kind.EXCHANGE_ONLINE
    org = OrganizationFactory(name="Bench", slug=f"bench-{uuid.uuid4().hex[:6]}")
    team = TeamFactory(organization=org)

    def rep(label: str):
        return UserFactory(
            organization=org,
            team=team,
            role="rep",
            email=f"{label}.{uuid.uuid4().hex[:6]}@bench.test",
        )

    def mailbox(kind: str):
        owner = rep(kind)
        channel = connect(sandbox, owner=owner, kind=kind)
        ChannelChoice.objects.update_or_create(user=owner, defaults={"channel": channel})
        channel_poll(channel_id=channel.pk)
        return owner, channel

    def esp_channel():
        owner = rep("smtp")
        login = f"sendgrid-{uuid.uuid4().hex[:6]}"
        sandbox.client.add_smtp_user(login, "relay")
        channel = DeliveryChannel.objects.create(
            organization=org,
            owner=owner,
            kind=DeliveryChannel.Kind.CUSTOM_SMTP,
            host=sandbox.smtp_host,
            port=sandbox.smtp_port,
            security=DeliveryChannel.Security.STARTTLS,
            username=login,
            password="relay",  # noqa: S106 - the sandbox's relay login
        )
        ChannelChoice.objects.update_or_create(user=owner, defaults={"channel": channel})
        channel = channel_esp_webhook_set(user=owner, channel=channel, esp="sendgrid")
        path = f"/webhooks/esp/{channel.esp_webhook_key}/"
        secret = channel.esp_webhook_secret
        sandbox.client.set_esp_webhook(
            login,
            esp="sendgrid",
            url=f"http://{WEBHOOK_USERNAME}:{secret}@127.0.0.1:{port}{path}",
        )
        return owner, channel

    def inbox_t0(channel, email) -> float:
        provider = {kind_gmail: "google", kind_outlook: "microsoft"}.get(channel.kind, "exchange")
        messages = sandbox.client.inbox(provider, channel.mailbox_address, with_raw=False)
        return max(m["internal_date"] for m in messages)

    def esp_t0(channel, email) -> float:
        event = EspEvent.objects.filter(outbound_email_id=email.pk).first()
        return event.occurred_at.timestamp()

    def bounce_latency(owner, channel, t0_of) -> float:
        address = f"bounce.{uuid.uuid4().hex[:8]}@northwind.test"
        email = email_enqueue(sender=owner, to_address=address, subject="Hi", body="Hello")
        channel_drain(channel_id=channel.pk)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            event = FeedEvent.objects.filter(
                outbound_email_id=email.pk, kind=FeedEvent.Kind.BOUNCED
            ).first()
            if event is not None:
                return event.created_at.timestamp() - t0_of(channel, email)
            time.sleep(0.02)
        raise SystemExit(f"no feed event for {address} within 60 s")

    from bounces.idle import MailboxIdler, MailboxStreamer, stream_channels
    from channels_app.providers import facade as providers
    from outreach.models import OutboundEmail
    from tests.bounces.poll_helpers import dsn_for
    from tests.factories import OutboundEmailFactory, ProspectFactory

    settings.MAILROOM_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.1/32"]

    def imap_channel():
        """A team member's SMTP channel whose mailbox is the sandbox's IMAP server, with
        `manage.py imap_idle`'s holder in IDLE on it."""
        owner = rep("imap")
        address = f"bounces.{uuid.uuid4().hex[:8]}@bench.test"
        sandbox.client.imap_add_user(address, "imap-secret")
        channel = DeliveryChannel.objects.create(
            organization=org,
            owner=owner,
            kind=DeliveryChannel.Kind.CUSTOM_SMTP,
            host=sandbox.smtp_host,
            port=sandbox.smtp_port,
            imap_host=sandbox.host,
            imap_port=sandbox.imap_port,
            imap_security="none",
            imap_username=address,
            imap_password="imap-secret",  # noqa: S106 - the sandbox mailbox's login
        )
        channel_poll(channel_id=channel.pk)
        idler = MailboxIdler(channel.pk, providers.imap_server(channel)).start()
        while not DeliveryChannel.objects.get(pk=channel.pk).push_active:
            time.sleep(0.05)
        return owner, channel, idler

    def imap_latency(owner, channel) -> float:
        """An SMTP server accepts at once and bounces later, into the sender's mailbox: the
        bounce is put in the IMAP inbox (t0) and waited for in the feed."""
        email = OutboundEmailFactory(
            sender=owner,
            prospect=ProspectFactory(
                organization=org, owner=owner, email=f"gone.{uuid.uuid4().hex[:8]}@northwind.test"
            ),
            channel=channel,
            channel_kind=DeliveryChannel.Kind.CUSTOM_SMTP,
            message_id=f"<mr.{uuid.uuid4().hex}@bench.test>",
            status=OutboundEmail.Status.SENT,
        )
        raw = dsn_for(
            mailbox=channel.imap_username,
            recipient=email.to_address,
            returned_headers=f"Message-ID: {email.message_id}\r\nTo: {email.to_address}\r\n",
        )
        t0 = time.time()
        sandbox.store.imap.deliver(channel.imap_username, raw)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            event = FeedEvent.objects.filter(
                outbound_email_id=email.pk, kind=FeedEvent.Kind.BOUNCED
            ).first()
            if event is not None:
                return event.created_at.timestamp() - t0
            time.sleep(0.02)
        raise SystemExit("no feed event for the IMAP bounce within 60 s")

    def onprem_mailbox(label: str):
        """A rep's Exchange On-Prem mailbox (the sandbox's EWS), synced once."""
        owner = rep(label)
        sandbox.client.add_ews_user(owner.email, "ews-secret")
        channel = DeliveryChannel.objects.create(
            organization=org,
            owner=owner,
            kind=DeliveryChannel.Kind.EXCHANGE_ONPREM,
            mailbox_address=owner.email,
            password="ews-secret",  # noqa: S106 - the sandbox mailbox's login
            ews_url=sandbox.ews_url,
        )
        ChannelChoice.objects.update_or_create(user=owner, defaults={"channel": channel})
        channel_poll(channel_id=channel.pk)
        return owner, channel

    def onprem_channel():
        """An On-Prem mailbox with `manage.py imap_idle`'s streaming subscription held on it."""
        owner, channel = onprem_mailbox("onprem")
        streamer = MailboxStreamer(channel.pk, stream_channels()[channel.pk]).start()
        while not DeliveryChannel.objects.get(pk=channel.pk).push_active:
            time.sleep(0.05)
        return owner, channel, streamer

    results: dict[str, list[float]] = {}
    gmail_owner, gmail = mailbox(kind_gmail)
    assert channel_push_start(channel=gmail), "Gmail watch failed"
    outlook_owner, outlook = mailbox(kind_outlook)
    assert channel_push_start(channel=outlook), "Graph subscription failed"
    smtp_owner, smtp = esp_channel()
    for label, owner, channel, t0_of in (
        ("Gmail, push", gmail_owner, gmail, inbox_t0),
        ("Outlook, push", outlook_owner, outlook, inbox_t0),
        ("SMTP via SendGrid webhook", smtp_owner, smtp, esp_t0),
    ):
        results[label] = [bounce_latency(owner, channel, t0_of) for _ in range(args.bounces)]
    imap_owner, imap, idler = imap_channel()
    results["SMTP with IMAP inbox, IDLE"] = [
        imap_latency(imap_owner, imap) for _ in range(args.bounces)
    ]
    idler.stop()
    imap.status = DeliveryChannel.Status.DISCONNECTED
    imap.save(update_fields=["status"])
    onprem_owner, onprem, streamer = onprem_channel()
    results["Exchange On-Prem, EWS stream"] = [
        bounce_latency(onprem_owner, onprem, inbox_t0) for _ in range(args.bounces)
    ]
    streamer.stop()
    onprem.status = DeliveryChannel.Status.DISCONNECTED
    onprem.save(update_fields=["status"])

    # Exchange On-Prem with EWS push: Exchange POSTs each arrival to Mailroom.
    settings.MAILROOM_EWS_PUSH_URL = f"{web}/webhooks/ews/"

    def onprem_push_channel():
        owner, channel = onprem_mailbox("onprem-push")
        assert channel_push_start(channel=channel), "EWS push subscription failed"
        return owner, channel

    push_owner, push_onprem = onprem_push_channel()
    results["Exchange On-Prem, EWS push"] = [
        bounce_latency(push_owner, push_onprem, inbox_t0) for _ in range(args.bounces)
    ]
    push_onprem.status = DeliveryChannel.Status.DISCONNECTED
    push_onprem.save(update_fields=["status"])

    # Polling only: the wait for the next 5-minute poll, plus one poll that finds the bounce.
    poll_owner, polled = mailbox(kind_gmail)
    poll_times = []
    for _ in range(5):
        email_enqueue(
            sender=poll_owner,
            to_address=f"bounce.{uuid.uuid4().hex[:8]}@northwind.test",
            subject="Hi",
            body="Hello",
        )
        channel_drain(channel_id=polled.pk)
        started = time.perf_counter()
        channel_poll(channel_id=polled.pk, ignore_backoff=True)
        poll_times.append(time.perf_counter() - started)
    poll = statistics.median(poll_times)
    waits = [POLL_INTERVAL * (i + 0.5) / 1000 for i in range(1000)]
    polling = {"median": statistics.median(waits) + poll, "p95": percentile(waits, 0.95) + poll}

    from sandbox import ews_streaming

    kind_onprem = DeliveryChannel.Kind.EXCHANGE_ONPREM

    def idle_day(push: bool) -> dict[str, int]:
        counts = {}
        for kind, provider, prefix in (
            (kind_gmail, "google", "gmail."),
            (kind_outlook, "microsoft", "graph."),
            (kind_onprem, "exchange", "ews."),
        ):
            if kind == kind_onprem:
                _, channel = onprem_push_channel() if push else onprem_mailbox("onprem-poll")
            else:
                _, channel = mailbox(kind)
            if push and kind != kind_onprem:
                assert channel_push_start(channel=channel)
            DeliveryChannel.objects.exclude(pk=channel.pk).update(status="disconnected")
            sandbox.client.reset_calls(provider, channel.mailbox_address)
            start = time.time()
            for cycle in range(288):
                with time_machine.travel(start + cycle * POLL_INTERVAL, tick=False):
                    if push and kind == kind_onprem and cycle % 3 == 0:
                        ews_streaming.push_status_all()  # Exchange's StatusEvent, every 15 min
                    if push and cycle % 12 == 0:
                        channels_push_renew_due()
                    channels_poll_fan_out(
                        enqueue=lambda ids: [channel_poll(channel_id=i) for i in ids]
                    )
            calls = sandbox.client.calls(provider, channel.mailbox_address)
            counts[kind] = sum(n for name, n in calls.items() if name.startswith(prefix))
        return counts

    with_push, polling_only = idle_day(True), idle_day(False)

    cpus = os.cpu_count()
    print(f"Machine: {platform.machine()}, {cpus} CPUs, Python {platform.python_version()}")
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"\nBounce → live feed, {args.bounces} bounces per kind (seconds):")
    print(f"{'kind':<32} {'median':>8} {'p95':>8} {'max':>8}")
    for label, values in results.items():
        median, p95 = statistics.median(values), percentile(values, 0.95)
        print(f"{label:<32} {median:8.2f} {p95:8.2f} {max(values):8.2f}")
    print(
        f"{'Polling only (5-minute cycle)':<32} {polling['median']:8.2f} {polling['p95']:8.2f}"
        f"        (one poll: {poll * 1000:.0f} ms)"
    )
    print("\nAPI calls per idle mailbox per day:")
    for kind, label in ((kind_gmail, "Gmail"), (kind_outlook, "Outlook"), (kind_onprem, "On-Prem")):
        ratio = with_push[kind] / polling_only[kind] if polling_only[kind] else 0.0
        print(
            f"  {label:<8} push {with_push[kind]:4d}   polling only {polling_only[kind]:4d}"
            f"   ratio {ratio:.3f}"
        )
    from bounces.conf import bounce_settings as conf
    from bounces.idle import STREAM_MINUTES

    safety_polls = round(timedelta(days=1) / conf().push_safety_poll)
    stream_calls = 1 + 24 * 60 // STREAM_MINUTES + safety_polls
    print(
        f"  {'On-Prem stream':<8} {stream_calls:4d}   polling only  288   ratio "
        f"{stream_calls / 288:.3f}   (from the schedule: {24 * 60 // STREAM_MINUTES} streams of "
        f"{STREAM_MINUTES} min, 1 Subscribe, {safety_polls} safety polls)"
    )
    server.shutdown()
    sandbox.stop()


if __name__ == "__main__":
    main()
