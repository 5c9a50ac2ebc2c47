"""The coordinator Lambda is a small zip function: spec, planning, storage, layout and
status must import and work without pyspark installed."""

import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import sys
sys.modules["pyspark"] = None          # any `import pyspark...` now raises ImportError
import json, tempfile, os
from engine.job.spec import load_manifest
from engine.job.planning import plan_job, save_plan
from engine.job.status import build_status
from engine.store.storage import Storage
import engine, engine.job.layout, engine.cli.validate
d = tempfile.mkdtemp()
open(os.path.join(d, "a.jsonl"), "w").write("{}")
open(os.path.join(d, "m.json"), "w").write(json.dumps({"name": "n", "mapper": "jobs.crawl:ExtractDocuments",
    "reducer": "jobs.crawl:P90ContentLengthByLanguage", "input": {"files": ["a.jsonl"]},
    "output": {"path": "out"}}))
spec = load_manifest(os.path.join(d, "m.json"), check_classes=False, work_dir=d)
save_plan(plan_job(spec), Storage())
print("ok", spec.job_id)
"""


def test_coordinator_modules_import_without_pyspark():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok n-")
