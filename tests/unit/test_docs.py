"""The docs cannot drift from the code: their generated parts (the manifest field
reference from the parser's own table, the layout listing from JobLayout) are current,
the site builds with every link and anchor checked, and the README stays a short user's
document whose links land."""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def gen():
    return runpy.run_path(str(REPO / "docs" / "gen.py"), run_name="docs_gen")


def test_generated_parts_are_current():
    assert gen()["stale"]() == []


def _unknown_fields(data: dict) -> set[str]:
    """The fields the parser calls unknown in ``data`` (whatever else it finds wrong)."""
    from engine.errors import ManifestError
    from engine.job.manifest import ManifestParser

    try:
        ManifestParser("m.json", None, check_classes=False).parse(data)
    except ManifestError as exc:
        return {p.field for p in exc.problems if p.reason.startswith("unknown field")}
    return set()


def test_every_documented_field_is_one_the_parser_takes():
    """Each field the reference lists, set (to a value of the wrong kind, even) in a
    manifest, is not refused as unknown; a field it does not list is."""
    from engine.job import manifest

    listed = re.findall(r"^\| `([\w.]+)` \|", gen()["manifest_fields"](""), re.M)
    assert {"name", "input.files", "output.path", "reducers", "params"} <= set(listed)
    base = {"name": "n", "mapper": "jobs.wordcount:SplitWords", "reducer": "jobs.wordcount:SumCounts",
            "input": {"files": ["a.txt"]}, "output": {"path": "out"}}
    for path in listed:
        data = json.loads(json.dumps(base))
        top, _, sub = path.partition(".")
        if sub:
            data[top][sub] = 7
        else:
            data[path] = 7
        assert _unknown_fields(data) == set(), path
    assert _unknown_fields({**base, "shiny": 1}) == {"shiny"}
    assert _unknown_fields({**base, "output": {"path": "out", "shiny": 1}}) == {"output.shiny"}
    assert len(listed) == len(manifest.FIELDS)


def test_a_field_added_to_the_table_makes_the_pages_stale(monkeypatch):
    from engine.job import manifest

    extra = manifest.Field("shiny", "string", "", "A new field.")
    monkeypatch.setattr(manifest, "FIELDS", (*manifest.FIELDS, extra))
    docs = gen()
    assert "| `shiny` |" in docs["manifest_fields"]("")
    assert "README.md" in docs["stale"]() and "docs/manifest.md" in docs["stale"]()


def test_the_layout_listing_is_jobs_layout():
    from engine.job.layout import JobLayout

    text = (REPO / "docs" / "design.md").read_text()
    layout = JobLayout("<root>", "<job_id>")
    for path in (layout.status_json, layout.committed_marker("<task_id>", "<identity>"), layout.report_html,
                 layout.failure("<task_id>")):
        assert path in text


def test_the_site_builds_with_every_link_and_anchor_checked(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "manifest" / "index.html").exists()


def _anchors(markdown: str) -> set[str]:
    slug = lambda t: re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", t).strip().lower())  # noqa: E731
    return {slug(h) for h in re.findall(r"^#+ (.*)$", markdown, re.M)}


def test_the_readme_is_short_and_its_links_land():
    readme = (REPO / "README.md").read_text()
    assert len(readme.encode()) <= 20 * 1024
    links = re.findall(r"\]\((docs/[\w-]+\.md)(?:#([\w-]+))?\)", readme)
    assert len(links) >= 10
    for page, anchor in links:
        assert (REPO / page).exists(), page
        assert not anchor or anchor in _anchors((REPO / page).read_text()), f"{page}#{anchor}"
    for anchor in re.findall(r"\]\(#([\w-]+)\)", readme):
        assert anchor in _anchors(readme), f"README.md#{anchor}"
    assert "\npytest" in readme   # the test command CI runs


def test_every_module_the_docs_name_exists():
    """A module moved (engine/tasks.py -> engine/task/) must not leave the docs pointing at
    the old file."""
    texts = [(REPO / "README.md").read_text()] + [p.read_text() for p in (REPO / "docs").glob("*.md")]
    named = {m for text in texts for m in re.findall(r"\bengine/[\w/]+\.py\b", text)}
    assert len(named) >= 20
    assert sorted(m for m in named if not (REPO / m).exists()) == []
