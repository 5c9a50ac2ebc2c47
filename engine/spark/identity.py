"""Who the Spark JVM runs as when the OS cannot name the user.

Lambda runs a function as a non-root user, and nothing promises that user a passwd entry
(our container tests run as uid 993 with none). A JVM started that way sees
``user.home`` as ``?`` (Spark's Ivy setup fails: "basedir must be absolute: ?/.ivy2.5.2"),
and Hadoop's login (JAAS ``UnixLoginModule``) fails on the first file system Spark makes:
"Invalid UID, could not determine effective user". Measured in the built image, read-only
root, uid 993.

So, for a user the OS cannot name: the JVM gets ``-Duser.home`` (``HOME``, or the scratch
root), Spark gets ``SPARK_USER``, and Hadoop's login user is set to a plain remote user of
that name before anything asks Hadoop who is logged in. A named user changes nothing.
"""

from __future__ import annotations

import os
import pwd


def os_user_name() -> str | None:
    """This process's user name as the OS gives it; None when the uid has no passwd entry."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name or None
    except KeyError:
        return None


def unnamed() -> bool:
    return os_user_name() is None


def fallback_name() -> str:
    return os.environ.get("SPARK_USER") or f"uid{os.getuid()}"


def jvm_flags(tmp_root: str | None) -> list[str]:
    """JVM flags for an unnamed user: a home Java cannot find in passwd."""
    if not unnamed():
        return []
    home = os.environ.get("HOME") or tmp_root
    return [f"-Duser.home={home}"] if home else []


def process_env() -> dict[str, str]:
    """Variables the JVM needs for an unnamed user (Spark reads SPARK_USER before Hadoop)."""
    return {"SPARK_USER": fallback_name()} if unnamed() else {}


def log_in(jvm) -> None:
    """Make Hadoop's login user a plain remote user of the fallback name (no OS login), on
    a JVM that has not made a file system yet. Nothing to do for a named user."""
    if not unnamed():
        return
    ugi = jvm.org.apache.hadoop.security.UserGroupInformation
    ugi.setLoginUser(ugi.createRemoteUser(fallback_name()))
