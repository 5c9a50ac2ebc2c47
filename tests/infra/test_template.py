"""Static checks of the deployment: template.yaml, its translated form, the ASL.

The external linters (sam, asl-validator) are installed by .ci/run; a developer without
them sees a skip, CI (LMR_REQUIRE_INFRA_TOOLS=1) sees a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import PERMANENT_ERRORS, RETRYABLE_ERRORS
from infra.translate import ROOT, load_template, prepare, translate

ASL = ROOT / "infra" / "statemachine.asl.json"
TRANSIENT_LAMBDA_ERRORS = {"Lambda.ServiceException", "Lambda.TooManyRequestsException",
                           "Lambda.SdkClientException", "Lambda.AWSLambdaException"}
# Services whose actions take no resource-level permission: "*" is the only possible Resource.
NO_RESOURCE_LEVEL = {"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                     "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                     "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"}


def tool(name: str, env_var: str) -> str:
    """Path of an external linter: $env_var, .ci-tools, or PATH; skip (or fail in CI) if none."""
    candidates = [os.environ.get(env_var), ROOT / ".ci-tools" / "bin" / name,
                  ROOT / ".ci-tools" / "node_modules" / ".bin" / name, shutil.which(name)]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    if os.environ.get("LMR_REQUIRE_INFRA_TOOLS"):
        pytest.fail(f"{name} not installed; .ci/run installs it")
    pytest.skip(f"{name} not installed (set {env_var}, or run .ci/run once)")


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def translated(tmp_path_factory) -> tuple[dict, Path]:
    template = translate(prepare(load_template()))
    path = tmp_path_factory.mktemp("cfn") / "translated.json"
    path.write_text(json.dumps(template, default=str))
    return template, path


def cfn_lint(path: Path) -> subprocess.CompletedProcess:
    return run([str(Path(sys.executable).with_name("cfn-lint")), str(path)])


def test_cfn_lint_passes_on_the_sam_template():
    result = cfn_lint(ROOT / "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_passes_on_the_translated_template_with_the_asl_inlined(translated):
    template, path = translated
    machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert len(machines) == 1 and "Map" in json.dumps(machines[0]["Properties"]["DefinitionString"])
    result = cfn_lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path, translated):
    """The lint tests above can fail: a dependency cycle is reported on the translated form.
    (The bucket's notification already needs the coordinator; the reverse closes a cycle.)"""
    template = json.loads(translated[1].read_text())
    template["Resources"]["CoordinatorFunction"]["DependsOn"] = ["DataBucket"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(template))
    result = cfn_lint(broken)
    assert result.returncode != 0 and "E3004" in result.stdout


def test_sam_validate_lint():
    result = run([tool("sam", "LMR_SAM"), "validate", "--lint", "--region", "us-east-1",
                  "--template-file", "template.yaml"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_asl_validator_accepts_the_definition_and_rejects_a_broken_one(tmp_path):
    validator = tool("asl-validator", "LMR_ASL_VALIDATOR")
    result = run([validator, "--json-path", str(ASL)])
    assert result.returncode == 0, result.stdout + result.stderr
    broken = json.loads(ASL.read_text())
    broken["States"]["Mode"]["Default"] = "NoSuchState"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    assert run([validator, "--json-path", str(tmp_path / "broken.json")]).returncode != 0


def _task_states(states: dict):
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        if state["Type"] == "Map":
            yield from _task_states(state["ItemProcessor"]["States"])


def test_every_lambda_task_retries_transient_errors_but_never_permanent_ones():
    definition = json.loads(ASL.read_text())
    tasks = dict(_task_states(definition["States"]))
    assert {"MapTask", "Reduce", "PlanReduce", "ReduceTask", "Publish", "Finalize"} <= tasks.keys()
    for name, state in tasks.items():
        retried = {e for retrier in state.get("Retry", []) for e in retrier["ErrorEquals"]}
        assert TRANSIENT_LAMBDA_ERRORS <= retried, name
        assert not retried & set(PERMANENT_ERRORS), f"{name} retries a permanent error"
        assert "States.ALL" not in retried and "States.TaskFailed" not in retried, name
    assert "RetryableTaskError" in {e for r in tasks["MapTask"]["Retry"] for e in r["ErrorEquals"]}


# What the platform reports for an invocation that never returned: not one of ours.
PLATFORM_ERRORS = TRANSIENT_LAMBDA_ERRORS | {"Sandbox.Timedout"}


def test_the_state_machine_retries_exactly_what_the_engine_classifies_as_retryable():
    """One classification: the engine's RETRYABLE_ERRORS are the errors the map and reduce
    tasks retry (no more, no fewer), and none of them is also called permanent."""
    definition = json.loads(ASL.read_text())
    tasks = dict(_task_states(definition["States"]))
    for name in ("MapTask", "Reduce", "ReduceTask"):
        retried = {e for r in tasks[name]["Retry"] for e in r["ErrorEquals"]} - PLATFORM_ERRORS
        assert retried == set(RETRYABLE_ERRORS), name
    assert not set(RETRYABLE_ERRORS) & set(PERMANENT_ERRORS)


def _allow_statements(template: dict):
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            statements = policy["PolicyDocument"]["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                if statement["Effect"] == "Allow":
                    yield logical_id, statement


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


# Wildcard actions a role may hold: none today. Adding one is a decision to write down here.
WILDCARD_ACTIONS_ALLOWED: set[str] = set()
# AWS managed policies a function role may carry: logs and traces, no data access.
MANAGED_POLICIES_ALLOWED = {"service-role/AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"}
DATA_SERVICES = ("s3:", "states:", "lambda:", "sqs:", "dynamodb:", "kms:", "secretsmanager:")
BUCKET_PREFIXES = ("manifests", "inputs", "jobs", "outputs")


def iam_problems(template: dict) -> list[str]:
    """Everything in the translated template's roles that breaks least privilege."""
    problems = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for arn in resource["Properties"].get("ManagedPolicyArns", []):
            name = json.dumps(arn).split(":policy/")[-1].strip('"}')
            if name not in MANAGED_POLICIES_ALLOWED:
                problems.append(f"{logical_id}: managed policy {name} (may grant S3 or more)")
    for role, statement in _allow_statements(template):
        actions = _as_list(statement["Action"])
        resources = _as_list(statement["Resource"])
        for action in actions:
            if "*" in action and action not in WILDCARD_ACTIONS_ALLOWED:
                problems.append(f"{role}: wildcard action {action}")
        if "*" in resources:
            data = [a for a in actions if a.startswith(DATA_SERVICES) or a not in NO_RESOURCE_LEVEL]
            if data:
                problems.append(f"{role}: {data} on Resource '*'")
        if a_object_action(actions):
            for res in resources:
                text = json.dumps(res)
                # object actions reach a prefix of the data bucket, never the whole bucket
                if not any(f"}}/{prefix}/" in text for prefix in BUCKET_PREFIXES):
                    problems.append(f"{role}: {actions} on {text}")
    return problems


def test_iam_is_least_privilege(translated):
    template = translated[0]
    assert len({role for role, _ in _allow_statements(template)}) == 5  # coordinator, mapper, reducer, finalize, sm
    assert iam_problems(template) == []


def _mutated(template: dict, role: str, change) -> dict:
    copy = json.loads(json.dumps(template, default=str))
    change(copy["Resources"][role]["Properties"])
    return copy


def _add_statement(statement: dict):
    return lambda props: props["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", **statement})


@pytest.mark.parametrize("change, expected", [
    (_add_statement({"Action": "s3:*", "Resource": "arn:aws:s3:::b/jobs/*"}), "wildcard action s3:*"),
    (_add_statement({"Action": "s3:Get*", "Resource": "arn:aws:s3:::b/jobs/*"}), "wildcard action s3:Get*"),
    (_add_statement({"Action": "s3:GetObject", "Resource": "*"}), "['s3:GetObject'] on Resource '*'"),
    (_add_statement({"Action": ["s3:PutObject"], "Resource": {"Fn::Sub": "arn:aws:s3:::${DataBucketName}/*"}}),
     "['s3:PutObject'] on"),
    (lambda props: props["ManagedPolicyArns"].append("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"),
     "managed policy AmazonS3ReadOnlyAccess"),
], ids=["wildcard", "partial wildcard", "data on *", "whole bucket", "managed S3 policy"])
def test_each_iam_check_can_fail(translated, change, expected):
    broken = _mutated(translated[0], "MapperFunctionRole", change)
    assert any(expected in p for p in iam_problems(broken)), iam_problems(broken)


def a_object_action(actions: list[str]) -> bool:
    return any(a in {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} for a in actions)


def test_only_the_reducer_and_finalize_may_write_outputs(translated):
    writers = {role for role, statement in _allow_statements(translated[0])
               if "s3:PutObject" in _as_list(statement["Action"])
               and "outputs/*" in json.dumps(statement["Resource"])}
    assert writers == {"ReducerFunctionRole", "FinalizeFunctionRole"}


def test_data_bucket_is_encrypted_private_and_tls_only():
    resources = load_template()["Resources"]
    bucket = resources["DataBucket"]["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    block = bucket["PublicAccessBlockConfiguration"]
    assert all(block[k] is True for k in ("BlockPublicAcls", "BlockPublicPolicy",
                                          "IgnorePublicAcls", "RestrictPublicBuckets"))
    policies = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert len(policies) == 1
    denies = [s for s in policies[0]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"]["Bool"]["aws:SecureTransport"] in ("false", False)
               and s["Principal"] == "*" and len(s["Resource"]) == 2 for s in denies)


def test_coordinator_is_a_zip_function_that_imports_no_pyspark():
    functions = {k: r["Properties"] for k, r in load_template()["Resources"].items()
                 if r["Type"] == "AWS::Serverless::Function"}
    assert functions["CoordinatorFunction"].get("PackageType", "Zip") == "Zip"
    assert functions["MapperFunction"]["PackageType"] == "Image"
    assert functions["ReducerFunction"]["PackageType"] == "Image"
    handler = functions["CoordinatorFunction"]["Handler"].rsplit(".", 1)[0]
    code = f"import sys, {handler}; sys.exit('pyspark' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_the_image_installs_the_pinned_requirements_ci_installs():
    dockerfile = (ROOT / "infra" / "Dockerfile").read_text()
    assert "-r /tmp/requirements.txt" in dockerfile and "COPY infra/requirements.txt" in dockerfile
    assert "infra/requirements.txt" in (ROOT / ".ci" / "run").read_text()
    pins = [line for line in (ROOT / "infra" / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins)
    assert {p.split("==")[0].lower().replace("_", "-") for p in pins} >= {
        "pyspark", "pyarrow", "boto3", "aws-lambda-powertools"}


def test_functions_log_where_lmr_logs_looks():
    from engine.stack.client import LOGGED_FUNCTIONS, log_group

    resources = load_template()["Resources"]
    for function in LOGGED_FUNCTIONS:
        props = resources[f"{function.capitalize()}Function"]["Properties"]
        group = resources[props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]["LogGroupName"]
        assert group == {"Fn::Sub": log_group("${AWS::StackName}", function)}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"


def test_the_stacks_allowed_locations_are_what_lmr_submit_checks():
    from engine.job.layout import data_locations

    env = load_template()["Globals"]["Function"]["Environment"]["Variables"]["LMR_ALLOWED_LOCATIONS"]
    assert env == {"Fn::Sub": ",".join(data_locations("s3://${DataBucketName}"))}
