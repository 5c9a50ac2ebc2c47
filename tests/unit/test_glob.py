"""Input globs match as documented, in time linear in the name (no regex backtracking).
Compared with an independent matcher: a memoized recursion over (pattern, name)."""

from __future__ import annotations

import subprocess
import sys
from functools import lru_cache

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.store.uris import Glob
from tests.conftest import REPO


def oracle(pattern: str, name: str) -> bool:
    @lru_cache(maxsize=None)
    def m(p: int, n: int) -> bool:
        if p == len(pattern):
            return n == len(name)
        if pattern.startswith("**/", p):   # no folders, or any run ending in "/"
            return m(p + 3, n) or any(name[k] == "/" and m(p + 3, k + 1) for k in range(n, len(name)))
        if pattern.startswith("**", p):
            return any(m(p + 2, k) for k in range(n, len(name) + 1))
        c = pattern[p]
        if c == "*":
            return any(m(p + 1, k) for k in range(n, len(name) + 1) if "/" not in name[n:k])
        if n == len(name):
            return False
        if c == "?":
            return name[n] != "/" and m(p + 1, n + 1)
        if c == "[" and "]" in pattern[p + 1:]:
            end = pattern.index("]", p + 1)
            body, negate = pattern[p + 1:end], False
            if body.startswith("!"):
                body, negate = body[1:], True
            inside = any(body[i] <= name[n] <= body[i + 2] if i + 2 < len(body) and body[i + 1] == "-"
                         else body[i] == name[n] for i in range(len(body)))
            return name[n] != "/" and inside != negate and m(end + 1, n + 1)
        return name[n] == c and m(p + 1, n + 1)

    return m(0, 0)


ALPHABET = "ab/."
patterns = st.lists(st.sampled_from(["a", "b", "/", ".", "*", "?", "**", "**/", "[ab]", "[!a]", "[a-b]"]),
                    max_size=8).map("".join)
names = st.text(alphabet=ALPHABET, max_size=12)


@settings(max_examples=600, deadline=None)
@given(patterns, names)
def test_the_glob_matches_like_the_oracle(pattern, name):
    assert Glob(pattern).match(name) == oracle(pattern, name)


def test_documented_examples():
    assert Glob("*.jsonl").match("part-1.jsonl") and not Glob("*.jsonl").match("2026/part-1.jsonl")
    assert Glob("**/*.jsonl").match("part-1.jsonl") and Glob("**/*.jsonl").match("2026/01/part-1.jsonl")
    assert Glob("day=2026-0[1-3]/*").match("day=2026-02/x") and not Glob("day=2026-0[1-3]/*").match("day=2026-04/x")


def test_a_pathological_glob_answers_at_once():
    """``**a`` repeated: a backtracking regex (``.*a.*a...``) took minutes on such a name.
    Run in a process of its own, so that a hang inside the regex engine ends as a failure."""
    code = ("from engine.store.uris import Glob; g = Glob('**a' * 31); "
            "assert not g.match('a' * 40 + 'b') and g.match('a' * 31); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=20)
    assert done.stdout.strip() == "ok", done.stderr
