"""The coordinator Lambda is a small zip function: spec, planning, storage, layout and
status must import and work without pyspark installed."""

import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import sys
sys.modules["pyspark"] = None          # any `import pyspark...` now raises ImportError
import json, tempfile, os
from engine.job.manifest import load_manifest
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


# With R > 1 reducers the finalize function (a zip, no pyspark) plans the reduce tasks and
# publishes their output: both run here with pyspark unimportable.
PARTITIONED = """
import sys
sys.modules["pyspark"] = None
import json, os, tempfile
import lambdas.finalize
from engine.job.commits import commit
from engine.job.layout import JobLayout, part_name
from engine.job.partitions import commit_partition
from engine.job.planning import plan_job, save_plan
from engine.job.results import MapResult, ReduceResult
from engine.job.manifest import load_manifest
from engine.stack.functions import plan_reduce_event
from engine.store.storage import Storage
d = tempfile.mkdtemp()
open(os.path.join(d, "a.txt"), "w").write("x")
open(os.path.join(d, "m.json"), "w").write(json.dumps({"name": "n", "mapper": "jobs.wordcount:SplitWords",
    "reducer": "jobs.wordcount:SumCountsPerWord", "reducers": 2, "input": {"files": ["a.txt"]},
    "output": {"path": "out"}}))
spec = load_manifest(os.path.join(d, "m.json"), check_classes=False, work_dir=d)
plan, storage = plan_job(spec), Storage()
save_plan(plan, storage)
[task] = plan.tasks
commit(spec, MapResult(task_id=task.task_id, status="SUCCEEDED", inputs=task.input_uris, rows_in=1, rows_out=1,
       rejected=0, bytes_in=1, bytes_out=1, duration_ms=1, cold_start=False, started_at=0.0,
       parts=[f"a/{part_name(0, '.parquet', b)}" for b in (0, 1)], identity=task.identity), storage)
event = {"job_id": spec.job_id, "job": JobLayout(d, spec.job_id).job_json}
reduce_plan = plan_reduce_event(event, storage)
assert (reduce_plan["partitions"], reduce_plan["items"]) == (2, [0, 1]), reduce_plan
for p in (0, 1):
    path = os.path.join(JobLayout(d, spec.job_id).reduce_dir(reduce_plan["round"], p), "att", "part.csv")
    os.makedirs(os.path.dirname(path))
    open(path, "w").write(f"word,count\\nw{p},1\\n")
    commit_partition(spec, reduce_plan["round"], ReduceResult(status="SUCCEEDED", rows_in=1, rows_out=1,
                     bytes_out=1, duration_ms=1, cold_start=False, started_at=0.0, output="",
                     files=["att/part.csv"], partition=p), storage)
from tests.lambda_context import LambdaContext
context = LambdaContext("FinalizeFunction", 512, "arn:aws:lambda:us-east-1:123456789012:function:FinalizeFunction")
result = lambdas.finalize.handler({**event, "step": "publish"}, context)
print("ok", sorted(json.load(open(os.path.join(spec.output.path, "_SUCCESS")))["files"]), result["rows_out"])
"""


def test_the_finalize_function_plans_and_publishes_r_reducers_without_pyspark():
    done = subprocess.run([sys.executable, "-c", PARTITIONED], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "ok ['r00000-part.csv', 'r00001-part.csv'] 2"
