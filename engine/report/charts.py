"""The report's pictures for a job too large for a row per task (as Lithops' ``plot()``):
how many tasks ran at each moment, and how long they took. Plain SVG, drawn here (the
page needs no script for them), so that 10,000 tasks cost a few kilobytes, not 10,000
elements. Each element carries its numbers (``data-*``) for a reader or a test.
"""

from __future__ import annotations

import html

WIDTH, HEIGHT, LEFT = 900, 160, 50


def running_over_time(spans: list[tuple[float, float]], bins: int = 300) -> tuple[float, float, list[int]]:
    """(first start, last end, the most tasks running at once within each of ``bins``
    equal slices of that time): a peak shorter than a slice still shows."""
    if not spans:
        return 0.0, 0.0, []
    t0, t1 = min(s for s, _ in spans), max(e for _, e in spans)
    width = (t1 - t0) / bins or 1.0
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda ev: (ev[0], ev[1]))
    peaks, running, i = [], 0, 0
    for b in range(bins):
        start, end = t0 + b * width, (t0 + (b + 1) * width if b < bins - 1 else float("inf"))
        while i < len(events) and events[i][0] <= start:   # what runs at the slice's start
            running += events[i][1]
            i += 1
        peak = running
        while i < len(events) and events[i][0] < end:
            running += events[i][1]
            peak = max(peak, running)
            i += 1
        peaks.append(peak)
    return t0, t1, peaks


def histogram(values: list[float], bins: int = 30) -> list[tuple[float, float, int]]:
    """(from, to, how many values) for ``bins`` equal slices of [0, max]."""
    if not values:
        return []
    top = max(values) or 1.0
    width = top / bins
    counts = [0] * bins
    for v in values:
        counts[min(int(v / width), bins - 1)] += 1
    return [(i * width, (i + 1) * width, c) for i, c in enumerate(counts)]


def running_svg(spans: list[tuple[float, float]]) -> str:
    t0, t1, peaks = running_over_time(spans)
    top = max(peaks, default=0) or 1
    step = WIDTH / max(len(peaks), 1)
    points = " ".join(f"{LEFT + i * step:.1f},{HEIGHT - p / top * (HEIGHT - 10):.1f} "
                      f"{LEFT + (i + 1) * step:.1f},{HEIGHT - p / top * (HEIGHT - 10):.1f}"
                      for i, p in enumerate(peaks))
    return (f'<svg class="running" width="{LEFT + WIDTH + 20}" height="{HEIGHT + 30}" '
            f'data-peak="{max(peaks, default=0)}" data-tasks="{len(spans)}">'
            f'<polyline class="running-line" fill="none" stroke="#5b9bd5" stroke-width="1.5" points="{points}"/>'
            f'<text x="4" y="14">{max(peaks, default=0)}</text><text x="4" y="{HEIGHT}">0</text>'
            f'<text x="{LEFT}" y="{HEIGHT + 20}">0 s</text>'
            f'<text x="{LEFT + WIDTH - 40}" y="{HEIGHT + 20}">{t1 - t0:.1f} s</text></svg>')


def histogram_svg(durations: list[float]) -> str:
    bins = histogram(durations)
    top = max((c for _, _, c in bins), default=0) or 1
    step = WIDTH / max(len(bins), 1)
    bars = "".join(
        f'<rect class="hist-bar" x="{LEFT + i * step:.1f}" y="{HEIGHT - c / top * (HEIGHT - 10):.1f}" '
        f'width="{max(step - 1, 1):.1f}" height="{c / top * (HEIGHT - 10):.1f}" data-count="{c}" '
        f'data-from="{lo:.3f}" data-to="{hi:.3f}"><title>{html.escape(f"{lo:.1f}-{hi:.1f} s: {c} tasks")}</title></rect>'
        for i, (lo, hi, c) in enumerate(bins))
    last = bins[-1][1] if bins else 0.0
    return (f'<svg class="durations" width="{LEFT + WIDTH + 20}" height="{HEIGHT + 30}" '
            f'data-tasks="{len(durations)}">{bars}<text x="4" y="14">{top}</text>'
            f'<text x="{LEFT}" y="{HEIGHT + 20}">0 s</text>'
            f'<text x="{LEFT + WIDTH - 40}" y="{HEIGHT + 20}">{last:.1f} s</text></svg>')
