"""`sam build` builds the function image from the unchanged template and Dockerfile. On
this machine the AWS base's name points at the stand-in (infra/standin/build.py tags it
only where no real base holds the name), so the build is the one AWS users run."""

from __future__ import annotations

import json
import subprocess

from infra.standin.build import AWS_BASE_IMAGE, HASH_LABEL, image_label
from tests.infra.test_template import ROOT, tool


def test_sam_build_builds_the_mapper_image_on_the_base_name(lambda_image, tmp_path):
    sam = tool("sam", "LMR_SAM")
    assert image_label(AWS_BASE_IMAGE, HASH_LABEL), "the AWS base name should hold the stand-in here"
    subprocess.run([sam, "build", "MapperFunction", "--template-file", str(ROOT / "template.yaml"),
                    "--build-dir", str(tmp_path / "build"), "--skip-pull-image"],
                   cwd=ROOT, check=True, capture_output=True, text=True)
    built = json.loads(subprocess.run(["docker", "image", "inspect", "mapperfunction:latest"], check=True,
                                      capture_output=True, text=True).stdout)[0]
    ours = json.loads(subprocess.run(["docker", "image", "inspect", lambda_image], check=True,
                                     capture_output=True, text=True).stdout)[0]
    # The same layers as the image the container tests run: one Dockerfile, built twice.
    assert built["RootFS"]["Layers"] == ours["RootFS"]["Layers"]
    assert built["Config"]["Cmd"] == ["lambdas.mapper.handler"]
