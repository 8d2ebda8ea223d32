#!/usr/bin/env python3
"""Check Cargohold's performance targets against Distribution (stdlib only).

  targets.py [--markdown] [--strict] BASE=SUMMARY[,SUMMARY...] NEW=SUMMARY[,SUMMARY...]
  targets.py [--markdown] [--strict] --compare COMPARE_OUTPUT

With summary files (bench.sh summary.txt, or run.sh's summary_all.txt which
adds the RSS figures), each label's runs are reduced to their median, as
compare.py does. With --compare, the medians are read from a saved
compare.py table (first label = base, second = new). The base is
Distribution, the new one Cargohold.

Prints one line per target: PASS/MISS, both medians and the ratio new/base.
A target whose figure is missing is NA (counted as a miss). Exit status 0,
or 1 with --strict when any target is missed.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass

# (metric, goal, kind): kind "ratio_ge"/"ratio_le" compare new/base medians,
# "abs_le" compares the new median with an absolute limit.
FLAT_GROWTH_MIB = 64  # "flat during a 1 GiB push": peak - pre-push tree RSS


@dataclass(frozen=True)
class Target:
    metric: str
    kind: str
    goal: float
    note: str


TARGETS = [
    Target("manifest_get_c32_rps", "ratio_ge", 4.0, "manifest GET req/s, 32 connections"),
    Target("manifest_get_c32_p99_ms", "ratio_le", 0.5, "manifest GET p99 latency, 32 connections"),
    Target("blob_put_1x_MiBps", "ratio_ge", 2.0, "256 MiB monolithic-stream upload (curl)"),
    Target("blob_get_1x_MiBps", "ratio_ge", 1.1, "256 MiB blob GET, 1 stream"),
    Target("blob_get_8x_aggregate_MiBps", "ratio_ge", 1.1, "256 MiB blob GET, 8 parallel streams"),
    Target("small_push_seq_img_per_s", "ratio_ge", 1.5, "small image push, 1 skopeo at a time"),
    Target("small_pull_seq_img_per_s", "ratio_ge", 1.5, "small image pull, 1 skopeo at a time"),
    Target("small_push_par4_img_per_s", "ratio_ge", 1.5, "small image push, 4 skopeo at a time"),
    Target("small_pull_par4_img_per_s", "ratio_ge", 1.5, "small image pull, 4 skopeo at a time"),
    Target("idle_rss_MiB", "abs_le", 150.0, "registry process tree RSS when idle"),
    Target("push_rss_growth_MiB", "abs_le", float(FLAT_GROWTH_MIB),
           "tree RSS growth during the 1 GiB push (flat)"),
]

Medians = dict[str, float | None]


def load_summary(path: str) -> dict[str, float | None]:
    vals: dict[str, float | None] = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and not line.startswith("#"):
                try:
                    vals[parts[0]] = float(parts[1])
                except ValueError:
                    vals[parts[0]] = None
    return vals


def medians_from_summaries(files: list[str]) -> Medians:
    runs = [load_summary(p) for p in files if p]
    out: Medians = {}
    for metric in {m for run in runs for m in run}:
        vs = [v for run in runs if (v := run.get(metric)) is not None]
        out[metric] = statistics.median(vs) if vs else None
    return out


def medians_from_compare(path: str) -> tuple[list[str], list[Medians]]:
    with open(path) as f:
        lines = [ln.split() for ln in f if ln.strip()]
    header = lines[0]
    labels = header[1:header.index("unit")]
    cols: list[Medians] = [{} for _ in labels]
    for row in lines[1:]:
        if row[0].startswith("-") or len(row) < 1 + len(labels):
            continue
        for i in range(len(labels)):
            try:
                cols[i][row[0]] = float(row[1 + i])
            except ValueError:
                cols[i][row[0]] = None
    return labels, cols


def evaluate(t: Target, base: float | None, new: float | None) -> tuple[str, float | None]:
    ratio = new / base if (new is not None and base) else None
    if t.kind == "abs_le":
        ok = new is not None and new <= t.goal
    elif ratio is None:
        ok = False
    elif t.kind == "ratio_ge":
        ok = ratio >= t.goal
    else:
        ok = ratio <= t.goal
    if new is None or (t.kind != "abs_le" and base is None):
        return "NA", ratio
    return ("PASS" if ok else "MISS"), ratio


def goal_text(t: Target) -> str:
    return {"ratio_ge": f">= {t.goal:g}x", "ratio_le": f"<= {t.goal:g}x", "abs_le": f"<= {t.goal:g} MiB"}[t.kind]


def fmt(v: float | None) -> str:
    return "NA" if v is None else f"{v:.6g}"


def main(argv: list[str]) -> int:
    args = argv[1:]
    markdown = "--markdown" in args
    strict = "--strict" in args
    args = [a for a in args if a not in ("--markdown", "--strict")]
    if len(args) == 2 and args[0] == "--compare":
        labels, cols = medians_from_compare(args[1])
        if len(labels) < 2:
            print("compare output needs two labels", file=sys.stderr)
            return 2
        base, new = cols[0], cols[1]
    elif len(args) == 2 and all("=" in a for a in args):
        labels, cols = [], []
        for a in args:
            label, files = a.split("=", 1)
            labels.append(label)
            cols.append(medians_from_summaries(files.split(",")))
        base, new = cols
    else:
        print(__doc__, file=sys.stderr)
        return 2
    bl, nl = labels[0], labels[1]
    rows = []
    misses = 0
    for t in TARGETS:
        b, n = base.get(t.metric), new.get(t.metric)
        verdict, ratio = evaluate(t, b, n)
        misses += verdict != "PASS"
        shown = "NA" if ratio is None else f"x{ratio:.2f}"
        rows.append((verdict, t.metric, goal_text(t), fmt(n), fmt(b), shown, t.note))
    if markdown:
        print(f"| result | metric | target | {nl} | {bl} | {nl}/{bl} | what |")
        print("|---|---|---|---:|---:|---:|---|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        w = max(len(t.metric) for t in TARGETS)
        print(f"{'':4}  {'metric':<{w}}  {'target':<11} {nl:>10} {bl:>10}  {'ratio':>7}")
        for verdict, metric, goal, nv, bv, shown, _ in rows:
            print(f"{verdict:<4}  {metric:<{w}}  {goal:<11} {nv:>10} {bv:>10}  {shown:>7}")
    print(f"\n{len(TARGETS) - misses}/{len(TARGETS)} targets met "
          f"(medians; ratio = {nl}/{bl}; 'flat' = growth <= {FLAT_GROWTH_MIB} MiB over the pre-push RSS)")
    return 1 if strict and misses else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
