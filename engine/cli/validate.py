"""``lmr validate``: every problem with a manifest and its inputs, without running it."""

from __future__ import annotations

from typing import Any

from ..errors import ManifestError, PlanError, Problem
from ..job.planning import list_input_files
from ..job.preflight import preflight
from ..job.spec import JobSpec
from ..job.manifest import ManifestParser
from ..job.manifest_file import manifest_dir, read_manifest
from ..store.storage import Storage


def validate_manifest(uri: str, overrides: dict[str, Any] | None = None,
                      storage: Storage | None = None,
                      work_dir: str | None = None) -> tuple[JobSpec | None, list[Problem], int]:
    """(spec or None, every problem found, number of input files found). A well-formed
    manifest gets every check ``lmr run`` makes before it starts (engine/job/preflight.py);
    a malformed one still gets its inputs listed, so that every problem shows at once."""
    storage = storage or Storage()
    try:
        data = read_manifest(uri, overrides, storage=storage)
    except ManifestError as exc:
        return None, exc.problems, 0
    parser = ManifestParser(uri, manifest_dir(uri), check_classes=True, work_dir=work_dir)
    spec, problems = None, []
    try:
        spec = parser.parse(data)
    except ManifestError as exc:
        problems.extend(exc.problems)
    if spec is not None:
        try:
            return spec, [], len({f.uri for f in preflight(spec, storage, uri).inputs})
        except PlanError as exc:
            return None, exc.problems, 0
    inp = getattr(parser, "input", None)
    found = 0
    # The input files are checked even when other fields are wrong: report it all at once.
    if inp is not None and (inp.files or inp.prefix or inp.list) and not any(
            p.field.startswith("input") for p in problems):
        try:
            found = len(list_input_files(inp, storage, uri))
        except PlanError as exc:
            problems.extend(exc.problems)
    return None, problems, found
