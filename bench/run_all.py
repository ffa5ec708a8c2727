"""Run the four benchmarks one after another (each on its own fresh server) and print a summary table.

    .venv/bin/python bench/run_all.py [--quick]

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
FULL = {"sdk_roundtrip": [], "callin_latency": [], "idle_memory": [], "chat_latency": []}
QUICK = {"sdk_roundtrip": ["-n", "300"], "callin_latency": ["--agents", "100", "--rate", "20", "--seconds", "5"],
         "idle_memory": ["-n", "100", "--settle", "2"],
         "chat_latency": ["--chats", "50", "--seconds", "15", "--interval", "5"]}


def run(name: str, args: list[str], out: Path) -> dict:
    print(f"\n=== {name} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, str(HERE / f"{name}.py"), *args, "--json", str(out)], check=True)
    return json.loads(out.read_text())


def row(what: str, figure: str, target: str, ok: bool) -> str:
    return f"| {what:<44} | {figure:<36} | {target:<12} | {'yes' if ok else 'NO':<4} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller loads, for a smoke run")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="tccc-bench-") as tmp:
        results = {name: run(name, extra, Path(tmp) / f"{name}.json") for name, extra in plan.items()}
    rtt, callin, memory = results["sdk_roundtrip"], results["callin_latency"], results["idle_memory"]
    chat = results["chat_latency"]
    lines = [row("what", "figure", "target", True).replace("| yes  |", "| met  |"),
             f"|{'-' * 46}|{'-' * 38}|{'-' * 14}|{'-' * 6}|"]
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
    print("\n" + MACHINE_NOTE)
    print("\n".join(lines))
    busy = max(rtt["cpu"]["otherCores"], callin["cpu"]["otherCores"], chat["cpu"]["otherCores"])
    if busy > 0.25:
        print(f"other processes used up to {busy:.2f} cores during the latency runs: rerun on a quiet machine")


if __name__ == "__main__":
    main()
