"""Wall-clock marks of a benchmark's child process, one line each in the file named by
LMR_PROBE_STAMPS. A module of its own, free of pyspark: importing it before a handler runs
must not import what the handler would import later (a Lambda imports the user's mapper
inside the task, after the JVM has been started)."""

import os
import time

STAMPS_ENV = "LMR_PROBE_STAMPS"


def stamp(mark: str) -> None:
    with open(os.environ[STAMPS_ENV], "a") as fh:
        fh.write(f"{mark} {time.time():.4f}\n")
