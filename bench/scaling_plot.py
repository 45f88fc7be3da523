#!/usr/bin/env python3
"""Thread-scaling plot from run_bench.py --csv files: one panel per multi-threaded workload,
throughput (1 / median seconds of a run; the work is fixed and split over the threads) against
the thread count, one line per allocator, both axes log2. Throughput is relative to mimalloc at
one thread, so a line that doubles per step scales perfectly.

  python3 bench/scaling_plot.py --out docs/scaling/scaling.svg docs/scaling/runs_a.csv \
      docs/scaling/runs_b.csv docs/scaling/runs_d.csv docs/scaling/runs_e.csv
"""
import argparse
import csv
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import PLOT_COLORS, svg_escape  # noqa: E402


def medians(paths):
    """{workload: {allocator: {threads: median seconds}}} over the ok runs. A workload in a
    later file replaces its runs from earlier files (a rerun after a change)."""
    times = {}
    for path in paths:
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["status"] == "ok"]
        rerun = {r["workload"] for r in rows}
        times = {k: v for k, v in times.items() if k[0] not in rerun}
        for row in rows:
            key = (row["workload"], row["allocator"], int(row["threads"]))
            times.setdefault(key, []).append(float(row["seconds"]))
    out = {}
    for (w, a, t), secs in times.items():
        out.setdefault(w, {}).setdefault(a, {})[t] = statistics.median(secs)
    return out


def panel(x0, y0, pw, ph, name, lines, y_lo, y_hi, threads):
    """One workload: lines {allocator: {threads: relative throughput}} on log2 axes."""
    lx = lambda t: x0 + pw * math.log2(t) / math.log2(threads[-1])
    ly = lambda v: y0 + ph - ph * (math.log2(v) - y_lo) / (y_hi - y_lo)
    out = [f'<text x="{x0}" y="{y0 - 8}" font-weight="bold">{svg_escape(name)}</text>',
           f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    for e in range(math.ceil(y_lo), math.floor(y_hi) + 1):
        y = ly(2.0 ** e)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 4}" y="{y + 4:.1f}" text-anchor="end">{2.0 ** e:g}</text>')
    for t in threads:
        out.append(f'<text x="{lx(t):.1f}" y="{y0 + ph + 14}" text-anchor="middle">{t}</text>')
    for a, pts in lines.items():
        coords = " ".join(f"{lx(t):.1f},{ly(v):.1f}" for t, v in sorted(pts.items()))
        out.append(f'<polyline fill="none" stroke="{PLOT_COLORS.get(a, "#000")}" '
                   f'stroke-width="1.8" points="{coords}"><title>{a}</title></polyline>')
    return out


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("csv", nargs="+", help="run_bench.py --csv files (a later file's workloads "
                   "replace the earlier files' runs of them)")
    p.add_argument("--out", required=True, help="SVG file to write")
    p.add_argument("--title", default="Thread scaling")
    args = p.parse_args(argv)
    data = medians(args.csv)
    names = [w for w in data if len({t for a in data[w].values() for t in a}) > 1]
    if not names:
        print("scaling_plot.py: no workload with more than one thread count", file=sys.stderr)
        return 2
    rel = {}
    for w in names:
        base = data[w].get("mimalloc", {}).get(1) or min(next(iter(data[w].values())).values())
        rel[w] = {a: {t: base / s for t, s in ts.items()} for a, ts in data[w].items()}
    vals = [v for w in names for ts in rel[w].values() for v in ts.values()]
    y_lo, y_hi = math.floor(math.log2(min(vals))), math.ceil(math.log2(max(vals)))
    threads = sorted({t for w in names for ts in rel[w].values() for t in ts})
    cols, pw, ph, left, top = 3, 280, 200, 60, 80
    rows = math.ceil(len(names) / cols)
    w, h = left + cols * (pw + 50), top + rows * (ph + 60) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="16" font-weight="bold">'
           f'{svg_escape(args.title)}</text>',
           f'<text x="{left}" y="40" fill="#555">throughput relative to mimalloc at 1 thread '
           '(log2) against threads (log2); fixed work split over the threads; '
           'median of the runs</text>']
    x = left
    for a in sorted({a for wl in rel.values() for a in wl}):
        out.append(f'<line x1="{x}" y1="56" x2="{x + 20}" y2="56" '
                   f'stroke="{PLOT_COLORS.get(a, "#000")}" stroke-width="3"/>')
        out.append(f'<text x="{x + 25}" y="60">{svg_escape(a)}</text>')
        x += 40 + 7 * len(a)
    for i, name in enumerate(names):
        x0 = left + (i % cols) * (pw + 50)
        y0 = top + (i // cols) * (ph + 60)
        out += panel(x0, y0, pw, ph, name, rel[name], y_lo, y_hi, threads)
    out.append("</svg>")
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {args.out} ({len(names)} workloads, threads {threads})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
