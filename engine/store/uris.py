"""URIs: local paths and ``s3://bucket/key``, joined and taken apart in one place, path
globs, and what a listing says of a file. Importable without pyspark."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import PermanentStorageError
from .locations import S3_SCHEME, quote


def is_s3(uri: str) -> bool:
    return uri.startswith(S3_SCHEME)


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    bucket, _, key = uri[len(S3_SCHEME):].partition("/")
    if not bucket:
        raise PermanentStorageError(f"{uri!r} names no bucket")
    return bucket, key


def join(base: str, *parts: str) -> str:
    """Join path segments onto a local path or an S3 URI with ``/``."""
    out = base.rstrip("/") if base not in ("/", S3_SCHEME) else base
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def s3_uri(bucket: str, key: str = "") -> str:
    """The one place ``s3://`` URIs are built: ``s3://bucket`` or ``s3://bucket/key``."""
    return f"{S3_SCHEME}{bucket}/{key}" if key else f"{S3_SCHEME}{bucket}"


def s3_root(uri: str) -> str:
    """``s3://bucket/a/b`` -> ``s3://bucket``."""
    return s3_uri(split_s3(uri)[0])


def basename(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


class Glob:
    """A path glob: ``*`` and ``?`` stay within one folder, ``[abc]``/``[!abc]`` a class,
    ``**/`` spans any folders, ``**`` anything. Matched by simulating its automaton over
    the name, a set of states per character: time linear in the name's length (times the
    pattern's), never the exponential backtracking of a regex such as ``.*a.*a.*a...``
    (a 93-character ``**a**a...`` glob took minutes that way)."""

    # Nodes: (kind, argument, next node). kinds: "lit" one character, "seg" any run of
    # non-"/" characters (loops), "any" any run (loops), "one" one non-"/" character,
    # "cls" a character class, "opt" an optional "**/" (argument: the node after it).
    def __init__(self, pattern: str):
        self.pattern = pattern
        nodes: list[tuple[str, object]] = []
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                start = len(nodes)
                nodes += [("opt", None), ("any", None), ("lit", "/")]
                nodes[start] = ("opt", start + 3)
                i += 3
            elif pattern.startswith("**", i):
                nodes.append(("any", None))
                i += 2
            elif pattern[i] == "*":
                nodes.append(("seg", None))
                i += 1
            elif pattern[i] == "?":
                nodes.append(("one", None))
                i += 1
            elif pattern[i] == "[" and pattern.find("]", i + 1) != -1:
                end = pattern.find("]", i + 1)
                body = pattern[i + 1:end]
                negated = body.startswith("!")
                nodes.append(("cls", (negated, _class_chars(body[1:] if negated else body))))
                i = end + 1
            else:
                nodes.append(("lit", pattern[i]))
                i += 1
        self.nodes = nodes
        self.final = len(nodes)
        self._closures = [self._closure(k) for k in range(len(nodes) + 1)]

    def _closure(self, k: int) -> frozenset:
        """States reachable from ``k`` without reading a character."""
        seen, todo = set(), [k]
        while todo:
            s = todo.pop()
            if s in seen:
                continue
            seen.add(s)
            if s < self.final:
                kind, arg = self.nodes[s]
                if kind in ("seg", "any"):
                    todo.append(s + 1)      # zero characters
                elif kind == "opt":
                    todo += [s + 1, arg]    # the folders, or none
        return frozenset(seen)

    def match(self, name: str) -> bool:
        states = self._closures[0]
        for ch in name:
            following: set[int] = set()
            for s in states:
                if s == self.final:
                    continue
                kind, arg = self.nodes[s]
                if kind == "lit":
                    if ch == arg:
                        following |= self._closures[s + 1]
                elif kind == "seg":
                    if ch != "/":
                        following |= self._closures[s]
                elif kind == "any":
                    following |= self._closures[s]
                elif kind == "one":
                    if ch != "/":
                        following |= self._closures[s + 1]
                elif kind == "cls":
                    negated, chars = arg
                    if (ch in chars) != negated and ch != "/":
                        following |= self._closures[s + 1]
            if not following:
                return False
            states = following
        return self.final in states


def _class_chars(body: str) -> frozenset:
    """The characters of a glob class body: ``a-z`` ranges and single characters.
    ValueError for a range that runs backwards."""
    chars, i = set(), 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            if body[i] > body[i + 2]:
                raise ValueError(f"bad character range {body[i]}-{body[i + 2]}")
            chars.update(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
            i += 3
        else:
            chars.add(body[i])
            i += 1
    return frozenset(chars)


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable glob below a prefix, or None."""
    if not pattern or len(pattern) > 1024:
        return "must be 1 to 1,024 characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in pattern):
        return f"{quote(pattern)} contains a control character"
    if pattern.startswith("/") or ".." in pattern.split("/"):
        return f"{quote(pattern)} must stay below the prefix (no leading '/', no '..')"
    try:
        Glob(pattern)
    except ValueError as exc:
        return f"{quote(pattern)} is not a valid glob: {exc}"
    return None


@dataclass(frozen=True)
class FileInfo:
    uri: str
    size: int
    etag: str | None = None
    is_dir: bool = False
    mtime_ns: int | None = None   # local files: with the size, what says the file changed
