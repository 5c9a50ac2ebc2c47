"""TEST DOUBLE builder: ``python -m infra.standin.build`` makes the stand-in for the AWS
Lambda Python base image from Debian's packages (README.md here says what and why).

Cached: the image carries a hash of this folder, the emulator binary and the CA
certificates it was built from, and is rebuilt only when one changed. The Debian root
filesystem is made once per machine (``lmr-standin-rootfs:bookworm``).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ROOTFS_IMAGE = "lmr-standin-rootfs:bookworm"
STANDIN_IMAGE = "lmr-standin/lambda-python:latest"
# The name infra/Dockerfile builds FROM on AWS; pointed at the stand-in here so that an
# unchanged `sam build` works (only when no other image holds the name).
AWS_BASE_IMAGE = "public.ecr.aws/lambda/python:3.12"
HASH_LABEL = "org.lambda-mr.standin-hash"
SUITE = "bookworm"
_FILES = ("Dockerfile", "lambda-entrypoint.sh", "bootstrap")
_CERTS = "/usr/local/share/ca-certificates"
RIE_ENV = "LMR_RIE"   # path of aws-lambda-rie-x86_64, if not found in an aws-sam-cli install


class StandinError(RuntimeError):
    """The stand-in cannot be built here (no Docker, no emulator, a failed step)."""


def docker(*args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    if shutil.which("docker") is None:
        raise StandinError("docker is not installed (apt-get install docker.io, then start dockerd)")
    return subprocess.run(["docker", *args], check=check, text=True,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.PIPE if capture else None)


def image_label(image: str, label: str) -> str | None:
    """A label of a local image, '' if it has none, None if there is no such image."""
    out = docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', image, check=False)
    return out.stdout.strip().replace("<no value>", "") if out.returncode == 0 else None


def find_rie() -> Path:
    """The Runtime Interface Emulator shipped inside the aws-sam-cli wheel."""
    if os.environ.get(RIE_ENV):
        return Path(os.environ[RIE_ENV])
    rel = "site-packages/samcli/local/rapid/aws-lambda-rie-x86_64"
    roots = [Path(sys.prefix), ROOT / ".ci-tools"]
    sam = shutil.which("sam")
    if sam:
        roots.append(Path(sam).resolve().parent.parent)
    for root in roots:
        for hit in sorted(glob.glob(str(root / "lib" / "python3*" / rel))):
            return Path(hit)
    raise StandinError(f"no aws-lambda-rie found: pip install aws-sam-cli (it ships the emulator) "
                       f"or set {RIE_ENV}")


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (debootstrap needs one)."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            if words[:1] == ["URIs:"] and len(words) > 1 and "security" not in words[1]:
                return words[1]
            if words[:1] == ["deb"] and len(words) > 2 and "security" not in words[-3]:
                return words[1] if not words[1].startswith("[") else words[2]
    raise StandinError("no Debian mirror found in this machine's apt sources")


def ensure_rootfs(log=print) -> None:
    if image_label(ROOTFS_IMAGE, HASH_LABEL) is not None:
        return
    if shutil.which("debootstrap") is None:
        raise StandinError("debootstrap is not installed (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="lmr-rootfs-", dir="/var/tmp") as tmp:
        target = os.path.join(tmp, "rootfs")
        log(f"debootstrap {SUITE} (minbase) into {target}")
        subprocess.run(["debootstrap", "--variant=minbase", SUITE, target, debian_mirror()], check=True,
                       stdout=subprocess.DEVNULL)
        tar = subprocess.Popen(["tar", "-C", target, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", ROOTFS_IMAGE], stdin=tar.stdout, check=True,
                       stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            raise StandinError("tar of the Debian root filesystem failed")


def _context(folder: Path, rie: Path) -> str:
    """Fill the build context; return the hash of everything in it."""
    digest = hashlib.sha256()
    for name in _FILES:
        shutil.copy2(HERE / name, folder / name)
    shutil.copy2(rie, folder / "aws-lambda-rie")
    (folder / "certs").mkdir()
    for cert in sorted(glob.glob(os.path.join(_CERTS, "*.crt"))):
        shutil.copy2(cert, folder / "certs" / os.path.basename(cert))
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def build(force: bool = False, log=print) -> str:
    """Build the stand-in if it is missing or stale; return its image name."""
    rie = find_rie()
    with tempfile.TemporaryDirectory(prefix="lmr-standin-") as tmp:
        context = Path(tmp)
        wanted = _context(context, rie)
        if force or image_label(STANDIN_IMAGE, HASH_LABEL) != wanted:
            ensure_rootfs(log)
            log(f"building {STANDIN_IMAGE} (TEST DOUBLE of {AWS_BASE_IMAGE})")
            docker("build", "--network", "host", "--label", f"{HASH_LABEL}={wanted}",
                   "--build-arg", f"ROOTFS={ROOTFS_IMAGE}", "-t", STANDIN_IMAGE, str(context), capture=False)
    # Give the AWS name to the stand-in only if no real base (or other image) holds it: a
    # stand-in (of any version) carries the hash label, the real base does not.
    holder = image_label(AWS_BASE_IMAGE, HASH_LABEL)
    if holder is None or holder:
        docker("tag", STANDIN_IMAGE, AWS_BASE_IMAGE)
    return STANDIN_IMAGE


def build_function_image(tag: str, quiet: bool = True) -> float:
    """Build infra/Dockerfile, unchanged, FROM the stand-in (its BASE_IMAGE argument); the
    seconds it took (Docker's layer cache makes a rebuild of unchanged files quick)."""
    started = time.monotonic()
    docker("build", "--network", "host", *(["-q"] if quiet else []),
           "--build-arg", f"BASE_IMAGE={STANDIN_IMAGE}", "-f", str(ROOT / "infra" / "Dockerfile"),
           "-t", tag, str(ROOT), capture=quiet)
    return time.monotonic() - started


def pinned(package: str) -> str:
    """``package==version`` as infra/requirements.txt pins it."""
    for line in (ROOT / "infra" / "requirements.txt").read_text().splitlines():
        if line.lower().startswith(package.lower() + "=="):
            return line.strip()
    raise StandinError(f"{package} is not pinned in infra/requirements.txt")


def powertools_layer(cache_dir: str | None = None) -> str:
    """A folder standing in for the Powertools layer the zip functions use (mounted at
    /opt/python, as Lambda mounts a layer's python/ folder): the pinned version, installed
    by the stand-in's own pip. Cached per version."""
    requirement = pinned("aws_lambda_powertools")
    cache_dir = cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "lambda-mr")
    folder = os.path.join(cache_dir, "standin-layer-" + requirement.replace("==", "-"))
    if not os.path.isfile(os.path.join(folder, ".complete")):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        docker("run", "--rm", "--network", "host", "-v", f"{folder}:/out", "--entrypoint", "pip", STANDIN_IMAGE,
               "install", "--no-cache-dir", "--target", "/out", requirement)
        Path(folder, ".complete").write_text(requirement)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.standin.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the cached image matches")
    parser.add_argument("--image", metavar="TAG", help="then build infra/Dockerfile on it, tagged TAG")
    args = parser.parse_args(argv)
    try:
        print(build(force=args.force))
        if args.image:
            print(f"{args.image}: built in {build_function_image(args.image, quiet=False):.0f} s")
    except (StandinError, subprocess.CalledProcessError) as exc:
        print(f"stand-in base: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
