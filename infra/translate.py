"""Translate template.yaml to plain CloudFormation offline, with the ASL inlined.

cfn-lint on the translated form catches circular dependencies (E3004) and ASL errors
(E3601) that it misses on the SAM form. Usage:

    python -m infra.translate > /tmp/translated.json && cfn-lint /tmp/translated.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_CODE = "s3://lmr-placeholder-artifacts/code.zip"
PLACEHOLDER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lambda-mr:latest"


def load_template(path: Path = ROOT / "template.yaml") -> dict:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(path.read_text())


def prepare(template: dict, root: Path = ROOT) -> dict:
    """What `sam build/package` would do: code locations filled, DefinitionUri inlined."""
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            if props.get("PackageType") == "Image":
                props["ImageUri"] = PLACEHOLDER_IMAGE
            else:
                props["CodeUri"] = PLACEHOLDER_CODE
        if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["Definition"] = json.loads((root / props.pop("DefinitionUri")).read_text())
    return template


def translate(template: dict) -> dict:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:  # the template names no AWS managed policies by name
        def load(self):
            return {}

    return transform(template, {"DataBucketName": "lmr-lint-bucket"}, NoManagedPolicies())


def main() -> None:
    json.dump(translate(prepare(load_template())), sys.stdout, indent=2, default=str)


if __name__ == "__main__":
    main()
