"""The crawl mapper, stamping the wall-clock time when user code is entered: the cold-start
benchmark's "user code" mark."""

from benchmarks.stamps import stamp
from jobs.crawl import ExtractDocuments


class ProbeDocuments(ExtractDocuments):
    def map(self, df, ctx):
        stamp("user_code")
        return super().map(df, ctx)
