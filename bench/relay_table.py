"""bench/relay.sh's table: reads the askload JSON and the process samples it wrote and
prints markdown, medians with the spread of the runs (min-max)."""
import glob
import json
import os
import statistics
import sys

out = sys.argv[1]
DELTAS, GAP_MS = 64, 20
TARGETS = ["askmock", "askd", "fastapi", "node", "nginx"]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


runs = {}  # (target, c) -> [(load json, meta json, run)]
for meta_path in glob.glob(os.path.join(out, "*.meta")):
    meta = load(meta_path)
    if not meta or "c" not in meta:
        continue
    data = load(meta_path[:-5] + ".json")
    runs.setdefault((meta["target"], meta["c"]), []).append((data, meta, meta["run"]))


def sustained(d, c):
    return bool(d) and d["ok"] == c and d["verify"].get("exact", 0) == c and \
        d["ms"]["total"]["max"] <= 1380 and d["ms"]["max_gap_stream"]["max"] <= 120


def cell(values, fmt="{:.2f}"):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    m = statistics.median(values)
    if len(values) == 1:
        return fmt.format(m)
    return fmt.format(m) + " (" + fmt.format(min(values)) + "–" + fmt.format(max(values)) + ")"


levels = sorted({c for (_, c) in runs})
print("| C | target | sustained runs | ok streams | added TTFT p50 ms | added TTFT p99 ms | "
      "added gap p50 ms | added gap p99 ms | CPU s / 1k streams | CPU µs / delta |")
print("|---|---|---|---|---|---|---|---|---|---|")
best = {}
for c in levels:
    for t in TARGETS:
        rs = sorted(runs.get((t, c), []), key=lambda r: r[2])
        if not rs:
            continue
        mock = {r[2]: r[0] for r in runs.get(("askmock", c), [])}
        passed = sum(1 for d, _, _ in rs if sustained(d, c))
        if passed * 2 > len(rs):
            best[t] = max(best.get(t, 0), c)
        ok, a50, a99, g50, g99, cpu1k, cpud = [], [], [], [], [], [], []
        for d, meta, run in rs:
            if not d:
                continue
            ok.append(d["ok"])
            m = mock.get(run)
            if m and d["ms"]["first_token"]["n"] and m["ms"]["first_token"]["n"]:
                a50.append(d["ms"]["first_token"]["p50"] - m["ms"]["first_token"]["p50"])
                a99.append(d["ms"]["first_token"]["p99"] - m["ms"]["first_token"]["p99"])
            if d["ms"]["chunk_gap"]["n"]:
                g50.append(d["ms"]["chunk_gap"]["p50"] - GAP_MS)
                g99.append(d["ms"]["chunk_gap"]["p99"] - GAP_MS)
            if d["ok"]:
                cpu1k.append(meta["cpu_s"] / d["ok"] * 1000)
                cpud.append(meta["cpu_s"] / (d["ok"] * DELTAS) * 1e6)
        print(f"| {c} | {t} | {passed}/{len(rs)} | {cell(ok, '{:.0f}')} | {cell(a50)} | {cell(a99)} | "
              f"{cell(g50)} | {cell(g99)} | {cell(cpu1k)} | {cell(cpud, '{:.1f}')} |")

print()
print("| target | streams sustained (highest C passed in most runs) |")
print("|---|---|")
for t in TARGETS:
    print(f"| {t} | {best.get(t, 'none of the levels')} |")

opened = [load(p) for p in glob.glob(os.path.join(out, "open-*.meta"))]
if opened:
    print()
    print("| target | slow streams open at once | all ok | RSS KB per open stream |")
    print("|---|---|---|---|")
    for m in sorted((m for m in opened if m), key=lambda m: TARGETS.index(m["target"])):
        res = load(os.path.join(out, "open-" + m["target"] + ".json")) or {}
        print(f"| {m['target']} | {m['streams']} | {res.get('ok', '?')} | "
              f"{(m['rss1_kb'] - m['rss0_kb']) / m['streams']:.1f} |")

idle = [load(p) for p in glob.glob(os.path.join(out, "idle-*.meta"))]
if idle:
    print()
    print("| askd idle sockets | open | RSS KB per idle socket |")
    print("|---|---|---|")
    for m in sorted((m for m in idle if m), key=lambda m: m["kind"]):
        res = load(os.path.join(out, "idle-" + m["kind"] + ".json")) or {}
        opened = res.get("open", m["sockets"])
        per = (m["rss1_kb"] - m["rss0_kb"]) / max(1, opened)
        print(f"| {m['kind']} | {opened} | {per:.1f} |")
