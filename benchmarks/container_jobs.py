"""A job for ``benchmarks.container``: the crawl mapper, noting when the user's map() is
reached (epoch ms, in the task's counters), so a cold start can be split at user code."""

from __future__ import annotations

import time

from jobs.crawl import ExtractDocuments


class TimedExtract(ExtractDocuments):
    def map(self, df, ctx):
        ctx.counters["map_entered_ms"] = int(time.time() * 1000)
        return super().map(df, ctx)
