"""The cloud API on PostgreSQL: DescribeTelCdr pages of 100 over a million CDRs, through Tencent's own client
against a live daphne, and the cost of verifying a request's signature.

    .venv/bin/python bench/cloud_api.py                       # a million CDRs over 90 days (~11,000 a day)
    .venv/bin/python bench/cloud_api.py --cdrs 100000 --days 30   # a quick look

It makes the CDRs with bulk inserts (sessions ended, each with the CDR push body `services/cdr.build` made for a
real call, varied per session), then times, per page (the client's whole round trip):
  - a day's export: every page of one day's CDRs (PageSize 100, PageNumber 0, 1, ...), for several days;
  - pages anywhere in the widest window Tencent allows (89 days: TotalCount is the whole million), sampled;
  - a page filtered by SessionIds and by Phones;
("server": the view's own time, as each request's log entry records it; the rest is HTTP and the client
building and parsing its models: a page of 100 TelCdrInfo is about 330 kB of JSON), and the signature: the
view's verification path in-process (parse, canonical request, HMAC chain, key look-up and unsealing, rate
count), and sequential requests a second through the client (signed, verified, logged).

Target: DescribeTelCdr p99 ≤ 50 ms a page.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testing.liveserver import LiveServer  # noqa: E402
from testing.postgres_server import PostgresServer  # noqa: E402


def percentiles(times: list[float]) -> dict:
    ordered = sorted(times)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50_ms": round(pick(0.50) * 1000, 1), "p99_ms": round(pick(0.99) * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1), "mean_ms": round(statistics.fmean(ordered) * 1000, 1)}


def template_payload(demo: dict) -> dict:
    """The CDR push body of a real call: made through the services, answered by agent1 and ended."""
    from sessions_app.models import Agent, Cdr, Tenant
    from sessions_app.services import sessions

    tenant = Tenant.objects.get(sdk_app_id=demo["SdkAppId"])
    agent = Agent.objects.get(tenant=tenant, user_id="agent1@demo")
    Agent.objects.filter(pk=agent.pk).update(status="free")
    session_id = sessions.create_inbound(tenant, "phone", demo["skillGroups"]["phone"],
                                         {"callerPhoneNumber": "008613800000000"}, uui="bench")
    sessions.accept(agent.pk, session_id, "Call")
    sessions.hang_up(agent.pk, session_id, "Call")
    return Cdr.objects.get(session_id=session_id).payload


def make_cdrs(demo: dict, count: int, days: int, last_day_end: datetime, seed: int = 18) -> list[str]:
    """`count` ended phone sessions of the demo tenant spread over `days` days up to `last_day_end`, each with
    its CDR; returns a sample of their ids."""
    from django.db import transaction

    from sessions_app.models import Agent, Cdr, Session, SkillGroup, Tenant

    rng = random.Random(seed)
    template = template_payload(demo)
    tenant = Tenant.objects.get(sdk_app_id=demo["SdkAppId"])
    group = SkillGroup.objects.get(pk=demo["skillGroups"]["phone"])
    agents = list(Agent.objects.filter(tenant=tenant))
    first = last_day_end - timedelta(days=days)
    per_day = count // days
    sample, started, made = [], time.perf_counter(), 0
    for day in range(days):
        opens = first + timedelta(days=day)
        sessions, cdrs = [], []
        for n in range(per_day if day < days - 1 else count - per_day * (days - 1)):
            created = opens + timedelta(seconds=rng.uniform(0, 86400))
            agent = rng.choice(agents)
            talk = rng.expovariate(1 / 180)
            accepted = created + timedelta(seconds=rng.uniform(3, 30))
            ended = accepted + timedelta(seconds=talk)
            caller = f"0086138{rng.randrange(10**8):08d}"
            session = Session(tenant=tenant, type="phone", direction="in", state="ended", skill_group=group,
                              agent=agent, caller_phone_number=caller, created_at=created, queued_at=created,
                              ring_at=accepted - timedelta(seconds=2), accepted_at=accepted, ended_at=ended,
                              duration=round(talk, 3), end_status="ok", close_by="client", uui="bench")
            push = copy.deepcopy(template)
            stamp = lambda moment: int(moment.timestamp())  # noqa: E731
            push.update(SessionId=session.id, Caller=caller, Duration=int(round(talk)), SeatUser=agent.user_id,
                        StartTimestamp=stamp(created), QueuedTimestamp=stamp(created),
                        RingTimestamp=stamp(session.ring_at), AcceptTimestamp=stamp(accepted),
                        EndedTimestamp=stamp(ended), HungUpSide="user")
            for part in push["ServeParticipants"]:
                part.update(SeatUser=agent.user_id, RingTimestamp=stamp(session.ring_at),
                            AcceptTimestamp=stamp(accepted), EndedTimestamp=stamp(ended))
            sessions.append(session)
            cdrs.append(Cdr(session=session, payload=push, created_at=ended))
        with transaction.atomic():
            Session.objects.bulk_create(sessions, batch_size=5000)
            Cdr.objects.bulk_create(cdrs, batch_size=5000)
        sample += [s.id for s in rng.sample(sessions, 3)]
        made += len(sessions)
        if day % 10 == 9 or day == days - 1:
            print(f"  day {day + 1}/{days}: {made} CDRs in {time.perf_counter() - started:.0f} s", flush=True)
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return sample


def timed_pages(cloud, calls: list[dict]) -> tuple[dict, list[dict]]:
    from tencentcloud.ccc.v20200210 import models

    times, answers = [], []
    for params in calls:
        request = models.DescribeTelCdrRequest()
        request.from_json_string(json.dumps(params))
        began = time.perf_counter()
        answer = cloud.DescribeTelCdr(request)
        times.append(time.perf_counter() - began)
        answers.append({"TotalCount": answer.TotalCount, "count": len(answer.TelCdrs)})
    from sessions_app.models import CloudApiCall
    served = [ms / 1000 for ms in CloudApiCall.objects.filter(action="DescribeTelCdr").order_by("-pk")
              .values_list("milliseconds", flat=True)[:len(calls)]]
    return {**percentiles(times), "server": percentiles(served)}, answers


def verification_microbench(demo: dict, rounds: int) -> dict:
    """The view's verification path in-process, on this PostgreSQL: each step's mean in microseconds."""
    from sessions_app.domain import tc3
    from sessions_app.services import cloud_keys
    from sessions_app.views import cloud_api

    secret_id, secret_key = demo["secretId"], demo["secretKey"]
    body = json.dumps({"SdkAppId": int(demo["SdkAppId"]), "PageSize": 100, "PageNumber": 0}).encode()
    timestamp = str(int(time.time()))
    day = datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%d")
    headers = {"content-type": "application/json; charset=utf-8", "host": "127.0.0.1:8000",
               "x-tc-action": "describetelcdr"}
    signed = ("content-type", "host", "x-tc-action")
    canonical = tc3.canonical_request("POST", "/", "", headers, signed, tc3.payload_hash(body, None))
    good = tc3.signature(secret_key, timestamp, day, "ccc", canonical)
    authorization = (f"TC3-HMAC-SHA256 Credential={secret_id}/{day}/ccc/tc3_request, "
                     f"SignedHeaders={';'.join(signed)}, Signature={good}")

    def crypto():
        parsed = tc3.parse_authorization(authorization)
        text = tc3.canonical_request("POST", "/", "", headers, parsed.signed_headers, tc3.payload_hash(body, None))
        assert tc3.matches(tc3.signature(secret_key, timestamp, parsed.date, parsed.service, text), parsed.signature)

    key = cloud_keys.active_key(secret_id)
    steps = {"signature (parse, canonical request, SHA-256, HMAC chain, compare)": crypto,
             "key look-up (one query)": lambda: cloud_keys.active_key(secret_id),
             "SecretKey unsealed (Fernet)": lambda: cloud_keys.secret_key(key),
             "rate count (one query)": lambda: cloud_api._check_rate(key)}
    means = {}
    for name, step in steps.items():
        step()
        began = time.perf_counter()
        for _ in range(rounds):
            step()
        means[name] = round((time.perf_counter() - began) / rounds * 1e6, 1)
    return means


def requests_a_second(cloud, demo: dict, seconds: float, action: str, params: dict) -> dict:
    from tencentcloud.ccc.v20200210 import models

    count, times, began = 0, [], time.perf_counter()
    while time.perf_counter() - began < seconds:
        request = getattr(models, f"{action}Request")()
        request.from_json_string(json.dumps(params))
        one = time.perf_counter()
        getattr(cloud, action)(request)
        times.append(time.perf_counter() - one)
        count += 1
    return {"per_second": round(count / (time.perf_counter() - began), 1), **percentiles(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cdrs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--export-days", type=int, default=3, help="days whose every page is read")
    parser.add_argument("--deep-pages", type=int, default=200, help="pages sampled across the widest window")
    parser.add_argument("--rounds", type=int, default=2000, help="microbench rounds of each verification step")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    postgres = PostgresServer().start()
    live = None
    try:
        os.environ["DATABASE_URL"] = postgres.url
        live = LiveServer(env={"DATABASE_URL": postgres.url, "CLOUD_API_RATE": "100000", "TCCC_SWEEPER": "0"},
                          workdir=os.environ.get("BENCH_WORKDIR") or None).start()
        os.environ.update(DJANGO_SETTINGS_MODULE="workbench.settings", CLOUD_API_RATE="100000")
        import django
        django.setup()
        from testing.cloud_client import client

        end_of_data = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        print(f"making {args.cdrs} CDRs over {args.days} days on PostgreSQL ...", flush=True)
        began = time.perf_counter()
        sample = make_cdrs(live.demo, args.cdrs, args.days, end_of_data)
        print(f"  made in {time.perf_counter() - began:.0f} s", flush=True)
        cloud = client(live)
        app = int(live.demo["SdkAppId"])
        results = {"cdrs": args.cdrs, "days": args.days}

        export = []
        for back in range(1, args.export_days + 1):
            start = int((end_of_data - timedelta(days=back)).timestamp())
            first, _ = timed_pages(cloud, [{"SdkAppId": app, "StartTimeStamp": start, "EndTimeStamp": start + 86399,
                                            "PageSize": 100, "PageNumber": 0}])
            total = call_total(cloud, app, start, start + 86399)
            export += [{"SdkAppId": app, "StartTimeStamp": start, "EndTimeStamp": start + 86399, "PageSize": 100,
                        "PageNumber": n} for n in range((total + 99) // 100)]
        figures, answers = timed_pages(cloud, export)
        results["a day's export, every page"] = {**figures, "cdrs_a_day": answers[0]["TotalCount"]}

        widest_start = int((end_of_data - timedelta(days=89)).timestamp())
        rng = random.Random(7)
        window_total = call_total(cloud, app, widest_start, widest_start + 89 * 86400 - 1)
        deep = [{"SdkAppId": app, "StartTimeStamp": widest_start, "EndTimeStamp": widest_start + 89 * 86400 - 1,
                 "PageSize": 100, "PageNumber": rng.randrange(max(window_total // 100, 1))}
                for _ in range(args.deep_pages)]
        figures, _ = timed_pages(cloud, deep)
        results["89 days, pages anywhere"] = {**figures, "TotalCount": window_total}
        first_pages = [{**deep[0], "PageNumber": 0} for _ in range(20)]
        results["89 days, first page"] = timed_pages(cloud, first_pages)[0]

        whole = {"StartTimeStamp": widest_start, "EndTimeStamp": widest_start + 89 * 86400 - 1, "PageSize": 100,
                 "PageNumber": 0}
        by_id = [{"SdkAppId": app, **whole, "SessionIds": rng.sample(sample, 20)} for _ in range(50)]
        results["89 days, 20 SessionIds"] = timed_pages(cloud, by_id)[0]
        by_phone = [{"SdkAppId": app, **whole, "Phones": [f"0086138{rng.randrange(10**8):08d}"]} for _ in range(50)]
        results["89 days, one phone number"] = timed_pages(cloud, by_phone)[0]

        results["verification steps (µs, mean)"] = verification_microbench(live.demo, args.rounds)
        results["requests a second, DescribePSTNActiveSessionList"] = requests_a_second(
            cloud, live.demo, 10, "DescribePSTNActiveSessionList", {"SdkAppId": app})
        print(json.dumps(results, indent=2, ensure_ascii=False))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False))
    finally:
        if live:
            live.stop()
        postgres.stop()


def call_total(cloud, app: int, start: int, end: int) -> int:
    from tencentcloud.ccc.v20200210 import models

    request = models.DescribeTelCdrRequest()
    request.from_json_string(json.dumps({"SdkAppId": app, "StartTimeStamp": start, "EndTimeStamp": end,
                                         "PageSize": 1, "PageNumber": 0}))
    return cloud.DescribeTelCdr(request).TotalCount


if __name__ == "__main__":
    main()
