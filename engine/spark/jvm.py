"""Where Java and Spark are on this machine, found without importing pyspark (a worker
imports it while the JVM boots)."""

from __future__ import annotations

import importlib.util
import os
import shutil


def java_path() -> str | None:
    """The java binary (JAVA_HOME, else PATH), symlinks resolved; None if there is none."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    return os.path.realpath(java) if java and os.path.exists(java) else None


def spark_home() -> str | None:
    """SPARK_HOME, else the pip-installed pyspark's folder (found without importing pyspark,
    which the caller imports while the JVM boots)."""
    if os.environ.get("SPARK_HOME"):
        return os.environ["SPARK_HOME"]
    spec = importlib.util.find_spec("pyspark")
    return os.path.dirname(spec.origin) if spec and spec.origin else None
