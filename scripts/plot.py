#!/usr/bin/env python3
"""Draws the benchmark's two plots as SVG (no plotting library needed).

    scripts/plot.py target/bench/results.csv docs/img

latency-vs-load.svg: p50 and p99 send-to-receive latency against the send
rate, for Redchat and its same-run baselines (a) and (b).
deliveries-vs-streams.svg: deliveries per second against open streams, for
Redchat and baseline (b).
"""

import csv
import math
import sys

COLORS = {"redchat": "#c0392b", "bare": "#2471a3", "redis": "#229954"}
NAMES = {
    "redchat": "Redchat",
    "bare": "(b) bare fan-out server",
    "redis": "(a) raw Redis Pub/Sub",
}
W, H, LEFT, RIGHT, TOP, BOTTOM = 760, 420, 70, 270, 40, 50


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def chart(title, xlabel, ylabel, series, log_y=False):
    """series: list of (key, label, dashed, [(x, y)])"""
    points = [p for _, _, _, pts in series for p in pts if p[1] is not None]
    if not points:
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"
    xs = sorted({x for x, _ in points})
    ymax = max(y for _, y in points) * 1.1
    ymin = min(y for _, y in points if y > 0) / 1.5 if log_y else 0
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(x):
        i = xs.index(x)
        return LEFT + (pw * i / max(len(xs) - 1, 1))

    def py(y):
        if log_y:
            f = (math.log10(y) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin))
        else:
            f = (y - ymin) / (ymax - ymin)
        return TOP + ph * (1 - f)

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{W}' height='{H}' "
        f"font-family='sans-serif' font-size='12'>",
        f"<rect width='{W}' height='{H}' fill='white'/>",
        f"<text x='{LEFT}' y='20' font-size='14' font-weight='bold'>{title}</text>",
        f"<line x1='{LEFT}' y1='{TOP + ph}' x2='{LEFT + pw}' y2='{TOP + ph}' stroke='black'/>",
        f"<line x1='{LEFT}' y1='{TOP}' x2='{LEFT}' y2='{TOP + ph}' stroke='black'/>",
        f"<text x='{LEFT + pw / 2}' y='{H - 10}' text-anchor='middle'>{xlabel}</text>",
        f"<text x='15' y='{TOP + ph / 2}' transform='rotate(-90 15 {TOP + ph / 2})' "
        f"text-anchor='middle'>{ylabel}</text>",
    ]
    for x in xs:
        out.append(f"<text x='{px(x)}' y='{TOP + ph + 18}' text-anchor='middle'>{x:g}</text>")
    if log_y:
        ticks = [10**e for e in range(math.floor(math.log10(ymin)), math.ceil(math.log10(ymax)) + 1)]
        ticks = [t for t in ticks if ymin <= t <= ymax]
    else:
        step = 10 ** math.floor(math.log10(ymax / 5)) if ymax > 0 else 1
        step *= 1 if ymax / step <= 10 else (2 if ymax / step <= 20 else 5)
        ticks = [i * step for i in range(int(ymax / step) + 1)]
    for t in ticks:
        out.append(
            f"<line x1='{LEFT}' y1='{py(t)}' x2='{LEFT + pw}' y2='{py(t)}' stroke='#ddd'/>"
            f"<text x='{LEFT - 6}' y='{py(t) + 4}' text-anchor='end'>{t:g}</text>"
        )
    for n, (key, label, dashed, pts) in enumerate(series):
        pts = [(x, y) for x, y in pts if y is not None and (y > 0 or not log_y)]
        if not pts:
            continue
        color = COLORS.get(key, "black")
        dash = " stroke-dasharray='5,4'" if dashed else ""
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f"<polyline points='{path}' fill='none' stroke='{color}' stroke-width='2'{dash}/>")
        for x, y in pts:
            out.append(f"<circle cx='{px(x):.1f}' cy='{py(y):.1f}' r='3' fill='{color}'/>")
        ly = TOP + 10 + n * 18
        out.append(
            f"<line x1='{W - RIGHT + 15}' y1='{ly}' x2='{W - RIGHT + 40}' y2='{ly}' "
            f"stroke='{color}' stroke-width='2'{dash}/>"
            f"<text x='{W - RIGHT + 45}' y='{ly + 4}'>{label}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def main():
    rows = load(sys.argv[1])
    outdir = sys.argv[2]
    latency = []
    for key in ("redchat", "bare", "redis"):
        mine = [r for r in rows if r["series"] == key]
        for q, dashed in (("p99_ms", False), ("p50_ms", True)):
            pts = [(number(r["rate"]), number(r[q])) for r in mine]
            latency.append((key, f"{NAMES[key]} {q[:-3]}", dashed, pts))
    with open(f"{outdir}/latency-vs-load.svg", "w") as f:
        f.write(chart("Send-to-receive latency against load (1,000 streams)",
                      "messages sent per second", "latency, ms (log scale)", latency, log_y=True))
    deliveries = []
    for key, series in (("redchat", "redchat-clients"), ("bare", "bare-clients")):
        pts = [(number(r["clients"]), number(r["deliveries_per_s"]))
               for r in rows if r["series"] == series]
        deliveries.append((key, NAMES[key], False, pts))
    with open(f"{outdir}/deliveries-vs-streams.svg", "w") as f:
        f.write(chart("Deliveries per second against open streams (20 sends/s)",
                      "open event streams", "deliveries per second", deliveries))


if __name__ == "__main__":
    main()
