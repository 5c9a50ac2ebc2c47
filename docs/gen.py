"""Write the docs' generated parts from the code that owns them, so they cannot drift:
the manifest field reference from the parser's own table (engine/job/manifest.py FIELDS)
and the layout listing from JobLayout (engine/job/layout.py listing).

    python docs/gen.py           # rewrite them in README.md and docs/*.md
    python docs/gen.py --check   # exit 1 naming each stale part (tests/unit/test_docs.py)

A generated part sits between ``<!-- BEGIN generated: NAME -->`` and
``<!-- END generated: NAME -->``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.job.layout import listing  # noqa: E402
from engine.job.manifest import FIELDS  # noqa: E402

FILES = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
_BLOCK = re.compile(r"(<!-- BEGIN generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END generated: (?P=name) -->)",
                    re.S)


def manifest_fields(docs: str) -> str:
    rows = ["| field | takes | default | what it does |", "|---|---|---|---|"]
    for f in FIELDS:
        bounds = f" ({f.bounds[0]:,}-{f.bounds[1]:,})" if f.bounds else ""
        rows.append(f"| `{f.path}` | {f.takes}{bounds} | {f.default} | {f.doc.format(docs=docs)} |")
    return "\n".join(rows) + "\n"


def layout(docs: str) -> str:
    width = max(len(path) for path, _ in listing())
    return "```text\n" + "".join(f"{path:<{width}}  {what}\n" for path, what in listing()) + "```\n"


GENERATORS = {"manifest-fields": manifest_fields, "layout": layout}


def render(path: str, text: str) -> str:
    docs = "docs/" if path == "README.md" else ""
    return _BLOCK.sub(lambda m: m.group(1) + GENERATORS[m.group("name")](docs) + m.group(4), text)


def stale() -> list[str]:
    """The files whose generated parts differ from what the code says now."""
    return [p for p in FILES if render(p, (REPO / p).read_text()) != (REPO / p).read_text()]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = stale()
        for path in found:
            print(f"{path}: a generated part is stale; run python docs/gen.py", file=sys.stderr)
        return 1 if found else 0
    for path in FILES:
        (REPO / path).write_text(render(path, (REPO / path).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
