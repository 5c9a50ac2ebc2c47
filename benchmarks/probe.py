"""The crawl mapper, stamping the wall-clock time when user code is entered: the cold-start
benchmark's "user code" mark. Writes to the file named by LMR_PROBE_STAMPS (one line a mark)."""

import os
import time

from jobs.crawl import ExtractDocuments

STAMPS_ENV = "LMR_PROBE_STAMPS"


def stamp(mark: str) -> None:
    with open(os.environ[STAMPS_ENV], "a") as fh:
        fh.write(f"{mark} {time.time():.4f}\n")


class ProbeDocuments(ExtractDocuments):
    def map(self, df, ctx):
        stamp("user_code")
        return super().map(df, ctx)
