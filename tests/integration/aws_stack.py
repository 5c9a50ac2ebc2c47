"""TEST-ONLY: stand the SAM stack up inside a moto server, from template.yaml's own values.

moto's CloudFormation drops PackageType, bucket notifications and DefinitionSubstitutions,
so the resources are created with boto3 instead: each function with the handler (or
image command), environment and memory template.yaml gives it; the state machine from
infra/statemachine.asl.json with its DefinitionSubstitutions applied; the bucket
notification from the coordinator's S3 event. moto's own Step Functions interpreter
executes the definition.

moto's own Docker invoker runs its own images, not ours, so ``LambdaFunction._invoke_lambda``
is swapped, only here, for tests, for one of two:

- :func:`in_process_lambdas` imports the handler the function names and calls it in this
  process (with a real event and a Lambda-like context): fast, for most flow tests;
- :func:`container_lambdas` sends the event to the function's own containers, the built
  image run through the Lambda runtime emulator under the function's limits
  (infra/containers.py; tests/container/).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from infra.translate import load_template
from tests.lambda_context import LambdaContext

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION, STACK = "123456789012", "us-east-1", "lmr-test"


def _invoke_in_process(self, event=None):
    """Replacement for moto's LambdaFunction._invoke_lambda: returns (payload, errored, logs)."""
    ref = self.image_config.cmd[0] if self.package_type == "Image" else self.handler
    module_name, func_name = ref.rsplit(".", 1)
    # What Lambda sets for the function (template values); tests run one job at a time.
    os.environ.update({k: str(v) for k, v in self.environment_vars.items()})
    os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(self.memory_size)
    context = LambdaContext(self.function_name, int(self.memory_size), self.function_arn)
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
        payload = event if isinstance(event, dict) else json.loads(event or "{}")
        return json.dumps(handler(payload, context)), False, ""
    except Exception as exc:
        error = {"errorType": type(exc).__name__, "errorMessage": str(exc),
                 "stackTrace": traceback.format_exc().splitlines()[-5:]}
        return json.dumps(error), True, traceback.format_exc()


@contextmanager
def container_lambdas(pool):
    """Every invocation goes to ``pool`` (an infra.containers.FunctionPool keyed by the
    functions' names, "<stack>-<logical id>")."""
    from moto.awslambda.models import LambdaFunction

    def invoke(self, event=None):
        payload, error = pool.invoke(self.function_name, event if isinstance(event, str) else json.dumps(event or {}))
        return json.dumps(payload), error is not None, ""

    original = LambdaFunction._invoke_lambda
    LambdaFunction._invoke_lambda = invoke
    try:
        yield pool
    finally:
        LambdaFunction._invoke_lambda = original


@contextmanager
def in_process_lambdas():
    from moto.awslambda.models import LambdaFunction

    original, saved_env = LambdaFunction._invoke_lambda, dict(os.environ)
    LambdaFunction._invoke_lambda = _invoke_in_process
    try:
        yield
    finally:
        LambdaFunction._invoke_lambda = original
        os.environ.clear()           # the functions' variables must not leak into later tests
        os.environ.update(saved_env)


class Resolver:
    """Just enough of CloudFormation's intrinsics for template.yaml's values."""

    def __init__(self, template: dict, params: dict[str, str], refs: dict[str, str], attrs: dict[str, str],
                 stack: str = STACK):
        defaults = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
        self.values = {**defaults, **params, **refs, "AWS::StackName": stack, "AWS::Region": REGION,
                       "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}
        self.attrs = attrs

    def __call__(self, value):
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.values[arg]
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self.values[m.group(1)], arg)
            if key == "Fn::GetAtt":
                name = ".".join(arg) if isinstance(arg, list) else arg
                return self.attrs[name]
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


@dataclass(frozen=True)
class FunctionSettings:
    """What template.yaml gives a function, resolved."""

    handler: str                    # the handler, or an Image function's command
    image: bool
    memory_mb: int
    ephemeral_mb: int
    timeout_s: int
    env: dict[str, str]


@dataclass
class Stack:
    name: str
    bucket: str
    state_machine_arn: str
    functions: dict[str, str]       # logical id -> function ARN (its name: "<stack>-<logical id>")
    settings: dict[str, FunctionSettings]


def deploy(endpoint: str, bucket: str, params: dict[str, str] | None = None, stack: str = STACK) -> Stack:
    """Create the template's bucket, functions, state machine and notification in moto."""
    import boto3

    requests.post(f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}},
                  timeout=10).raise_for_status()
    os.environ["MOTO_PORT"] = endpoint.rsplit(":", 1)[1]   # SFN's own clients call this server
    template = load_template()
    resources = template["Resources"]
    client = lambda name: boto3.client(name, endpoint_url=endpoint, region_name=REGION)  # noqa: E731
    s3, lam, sfn, iam = client("s3"), client("lambda"), client("stepfunctions"), client("iam")
    s3.create_bucket(Bucket=bucket)
    role = iam.create_role(RoleName=f"lmr-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    sm_name = f"{stack}-jobs"
    sm_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{sm_name}"
    refs = {"DataBucket": bucket, "JobStateMachine": sm_arn}
    resolve = Resolver(template, {"DataBucketName": bucket, **(params or {})}, refs, {}, stack)
    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    arns: dict[str, str] = {}
    settings: dict[str, FunctionSettings] = {}
    for logical_id, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        env = resolve({**global_env, **props.get("Environment", {}).get("Variables", {})})
        kwargs = dict(FunctionName=f"{stack}-{logical_id}", Role=role, Environment={"Variables": env},
                      MemorySize=int(resolve(props.get("MemorySize", 128))),
                      Timeout=int(resolve(props.get("Timeout", 3))))
        if props.get("PackageType") == "Image":
            kwargs.update(PackageType="Image", Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/lmr:latest"},
                          ImageConfig={"Command": props["ImageConfig"]["Command"]})
        else:
            kwargs.update(Runtime=props["Runtime"], Handler=props["Handler"], Code={"ZipFile": b"placeholder"})
        arns[logical_id] = lam.create_function(**kwargs)["FunctionArn"]
        image = props.get("PackageType") == "Image"
        settings[logical_id] = FunctionSettings(
            props["ImageConfig"]["Command"][0] if image else props["Handler"], image, kwargs["MemorySize"],
            int(resolve(props.get("EphemeralStorage", {}).get("Size", 512))), kwargs["Timeout"],
            {k: str(v) for k, v in env.items()})
        refs[logical_id] = kwargs["FunctionName"]
        resolve.attrs[f"{logical_id}.Arn"] = arns[logical_id]

    sm = resources["JobStateMachine"]["Properties"]
    definition = (ROOT / sm["DefinitionUri"]).read_text()
    for key, value in resolve(sm["DefinitionSubstitutions"]).items():
        definition = definition.replace("${" + key + "}", value)
    created = sfn.create_state_machine(name=resolve(sm["Name"]), definition=definition, roleArn=role)
    assert created["stateMachineArn"] == sm_arn

    rules = []
    for logical_id, res in resources.items():
        for event in res.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "S3":
                props = event["Properties"]
                rules.append({"LambdaFunctionArn": arns[logical_id], "Events": [props["Events"]],
                              "Filter": {"Key": {"FilterRules": props["Filter"]["S3Key"]["Rules"]}}})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": rules})
    return Stack(stack, bucket, sm_arn, arns, settings)
