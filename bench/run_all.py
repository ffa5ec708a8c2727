"""Run the benchmarks one after another (each on its own fresh server or media process) and print a summary table.

    .venv/bin/python bench/run_all.py [--quick] [--no-media] [--only-media]

--quick scales every benchmark down (fewer requests, agents and seconds) for a smoke run; its figures are
not comparable with the targets' loads.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import MACHINE_NOTE

HERE = Path(__file__).resolve().parent
WEB = {"sdk_roundtrip": [], "callin_latency": [], "idle_memory": [], "chat_latency": []}
WEB_QUICK = {"sdk_roundtrip": ["-n", "300"], "callin_latency": ["--agents", "100", "--rate", "20", "--seconds", "5"],
             "idle_memory": ["-n", "100", "--settle", "2"],
             "chat_latency": ["--chats", "50", "--seconds", "15", "--interval", "5"]}
# media benchmarks: label -> script and its arguments (no web server; each starts its own media process)
MEDIA = {"media_calls_opus": ("media_calls", ["--codec", "opus", "--calls", "20"]),
         "media_calls_pcmu": ("media_calls", ["--codec", "pcmu", "--calls", "20"]),
         "media_latency": ("media_latency", []), "media_video": ("media_video", []),
         "media_mixing": ("media_mixing", [])}
MEDIA_QUICK = {"media_calls_opus": ("media_calls", ["--codec", "opus", "--calls", "4", "--seconds", "3"]),
               "media_calls_pcmu": ("media_calls", ["--codec", "pcmu", "--calls", "4", "--seconds", "3"]),
               "media_latency": ("media_latency", ["--clicks", "10", "--calls", "5"]),
               "media_video": ("media_video", ["--calls", "1", "--seconds", "3"]),
               "media_mixing": ("media_mixing", ["--calls", "2", "--seconds", "3"])}


def run(name: str, args: list[str], out: Path, script: str | None = None) -> dict:
    print(f"\n=== {script or name} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, str(HERE / f"{script or name}.py"), *args, "--json", str(out)], check=True)
    return json.loads(out.read_text())


def row(what: str, figure: str, target: str, ok: bool | None) -> str:
    met = "-" if ok is None else "yes" if ok else "NO"
    return f"| {what:<44} | {figure:<36} | {target:<12} | {met:<4} |"


def web_rows(results: dict) -> list[str]:
    rtt, callin, memory = results["sdk_roundtrip"], results["callin_latency"], results["idle_memory"]
    chat = results["chat_latency"]
    lines = []
    for method in ("getStatus", "setStatus"):
        s = rtt[method]
        lines.append(row(f"SDK Agent.{method} round trip (n={s['n']})", f"p50 {s['p50']:.2f} / p99 {s['p99']:.2f} ms",
                         "5 / 25 ms", s["p50"] <= 5 and s["p99"] <= 25))
    c = callin["callIn"]
    label = f"POST -> callIn ({callin['agents']} agents, {callin['rate']:g}/s)"
    if c:
        lines.append(row(label, f"p50 {c['p50']:.1f} / p99 {c['p99']:.1f} ms", "p99 50 ms", c["p99"] <= 50))
    else:
        lines.append(row(label, "no callIn arrived", "p99 50 ms", False))
    lines.append(row("  sessions offered / created", f"{callin['offered']} / {callin['created']}",
                     "all", callin["offered"] == callin["created"] and not callin["postFailures"]))
    lines.append(row(f"idle memory per agent ({memory['agents']} agents)", f"{memory['perAgentKb']:.1f} KB",
                     "200 KB", memory["perAgentKb"] <= 200))
    for what, key in (("visitor -> agent", "visitorToAgent"), ("agent -> visitor", "agentToVisitor")):
        s = chat[key]
        label = f"chat {what} ({chat['chats']} chats, ~{chat['interval']:g} s)"
        if s:
            lines.append(row(label, f"p50 {s['p50']:.1f} / p99 {s['p99']:.1f} ms", "p99 50 ms", s["p99"] <= 50))
        else:
            lines.append(row(label, "nothing measured", "p99 50 ms", False))
    return lines


def media_rows(results: dict) -> list[str]:
    lines = []
    for codec, target in (("opus", 15), ("pcmu", 25)):
        r = results[f"media_calls_{codec}"]
        if "failed" in r:
            lines.append(row(f"{codec} calls per core ({r['calls']} calls)", "calls not set up", f"{target}/core",
                             False))
            continue
        figure = (f"{r['callsPerCore']:.1f} calls/core" if r["callsPerCore"] is not None
                  else f"not at full rate ({r['fpsMin']:.1f} fps)")
        lines.append(row(f"{codec} calls per core ({r['calls']} calls, media {r['mediaCores']:.2f})", figure,
                         f"{target}/core", r["callsPerCore"] is not None and r["callsPerCore"] >= target))
    latency = results["media_latency"]
    for m in latency["mouthToEar"]:
        lines.append(row(f"{m['codec']} mouth to ear added by the bridge", f"p50 {m['addedP50']:.1f} / p99 "
                         f"{m['addedP99']:.1f} ms", "40 ms", m["addedP99"] <= 40))
    for a in latency["acceptToAudio"]:
        s = a["acceptToAudio"]
        lines.append(row(f"{a['codec']} accept to first audio (n={s['n']})", f"p50 {s['p50']:.1f} / p99 "
                         f"{s['p99']:.1f} ms", "300 ms", s["p99"] <= 300))
    for r in results["media_video"]["runs"]:
        lines.append(row(f"video call CPU ({r['calls']} calls, {r['videoFpsMin']:.0f} fps min)",
                         f"{r['perCallCores'] * 100:.1f}% of a core per call", "none", None))
    for r in results["media_mixing"]["runs"]:
        monitored = r["kind"].startswith("listen")
        figure = f"{r['perCallCores'] * 100:.1f}% per call, {r.get('ratio', 1):.2f}x"
        lines.append(row(f"{r['kind']} call CPU vs two-party ({r['calls']} calls)", figure,
                         "1.5x" if monitored else "none", r.get("ratio", 9) <= 1.5 if monitored else None))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller loads, for a smoke run")
    parser.add_argument("--no-media", action="store_true", help="only the web benchmarks")
    parser.add_argument("--only-media", action="store_true", help="only the media benchmarks")
    args = parser.parse_args()
    web = {} if args.only_media else WEB_QUICK if args.quick else WEB
    media = {} if args.no_media else MEDIA_QUICK if args.quick else MEDIA
    with tempfile.TemporaryDirectory(prefix="tccc-bench-") as tmp:
        results = {name: run(name, extra, Path(tmp) / f"{name}.json") for name, extra in web.items()}
        results.update({label: run(label, extra, Path(tmp) / f"{label}.json", script)
                        for label, (script, extra) in media.items()})
    lines = [row("what", "figure", "target", True).replace("| yes  |", "| met  |"),
             f"|{'-' * 46}|{'-' * 38}|{'-' * 14}|{'-' * 6}|"]
    lines += web_rows(results) if web else []
    lines += media_rows(results) if media else []
    print("\n" + MACHINE_NOTE)
    print("\n".join(lines))
    others = [results[name]["cpu"]["otherCores"] for name in ("sdk_roundtrip", "callin_latency", "chat_latency")
              if name in results]
    others += [results[label].get("otherCores", 0) for label in results if label.startswith("media_calls")]
    busy = max(others, default=0)
    if busy > 0.25:
        print(f"other processes used up to {busy:.2f} cores during the latency runs: rerun on a quiet machine")


if __name__ == "__main__":
    main()
