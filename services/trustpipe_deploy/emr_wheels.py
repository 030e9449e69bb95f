"""The EMR cluster's wheels: every package the scoring job imports, for the cluster's Python and
architecture (`make emr-wheels`, which `make deploy` runs).

The lock's ``emr`` group is exported (pinned, hashed), narrowed to the lines whose markers hold on
the target, and each line's wheel downloaded for the target's platform: binaries only, never built
here, each checked against the lock's hashes. ``<out>/requirements.txt`` and ``<out>/wheels/`` are
what the apply uploads beside the trustpipe wheel (infra/modules/code) and what the bootstrap
action installs with ``--no-index --require-hashes`` (spark_jobs/emr/bootstrap.sh).
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

from trustpipe.errors import UserError
from trustpipe_orchestration.emr import CLUSTER_PLATFORM, CLUSTER_PYTHON

GROUP = "emr"
REQUIREMENTS = "requirements.txt"
WHEELS = "wheels"
DEFAULT_OUT = Path("build") / "emr"
MANYLINUX2014_GLIBC = 17
"""manylinux2014 is glibc 2.17: the oldest tag a wheel the lock pins is built for."""


class WheelhouseError(UserError):
    """The cluster's wheels cannot be exported or downloaded."""


@dataclass(frozen=True)
class Target:
    """A Python and a wheel platform (a manylinux tag) to build the wheelhouse for."""

    python: str
    platform: str

    @property
    def machine(self) -> str:
        return self.platform.split("_", 3)[-1]

    def environment(self) -> dict[str, str]:
        """The PEP 508 marker environment of a CPython on Linux of this target."""
        return {
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "python_version": self.python,
            "python_full_version": f"{self.python}.0",
            "implementation_version": f"{self.python}.0",
            "sys_platform": "linux",
            "os_name": "posix",
            "platform_system": "Linux",
            "platform_machine": self.machine,
        }

    def platforms(self) -> list[str]:
        """The target's tag and every older glibc's manylinux tag down to manylinux2014 (2.17):
        pip takes each as given and infers none of them."""
        glibc_minor = int(self.platform.split("_")[2])
        older = [f"manylinux_2_{m}_{self.machine}" for m in range(glibc_minor, MANYLINUX2014_GLIBC - 1, -1)]
        return [*older, f"manylinux2014_{self.machine}"]

    @property
    def abi(self) -> str:
        return "cp" + self.python.replace(".", "")


CLUSTER = Target(CLUSTER_PYTHON, CLUSTER_PLATFORM)


def this_machine() -> Target:
    """This interpreter on this machine: the stand-in for the cluster in the tests."""
    libc, version = platform.libc_ver()
    if libc != "glibc":
        raise WheelhouseError(f"this machine's C library is {libc or 'unknown'}, not glibc: no manylinux tag")
    major, minor = version.split(".")[:2]
    return Target(
        f"{sys.version_info.major}.{sys.version_info.minor}",
        f"manylinux_{major}_{minor}_{platform.machine()}",
    )


def export(project_root: Path) -> str:
    """The lock's ``emr`` group as hashed requirements (every platform's lines, with markers)."""
    command = [sys.executable, "-m", "uv", "export", "--frozen", "--no-default-groups", "--no-emit-project"]
    command += ["--only-group", GROUP, "--format", "requirements-txt", "--quiet"]
    done = subprocess.run(command, cwd=project_root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise WheelhouseError(f"uv export of the {GROUP!r} group failed: {done.stderr.strip()}")
    return done.stdout


def for_target(requirements: str, target: Target) -> list[str]:
    """The entries (``name==version --hash=...``) whose markers hold on ``target``, one a line."""
    joined = re.sub(r"\s*\\\n\s*", " ", requirements)
    entries = []
    for line in joined.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, _, hashes = line.partition(" --hash")
        requirement = Requirement(spec)
        if requirement.marker is None or Marker(str(requirement.marker)).evaluate(target.environment()):
            pin = f"{requirement.name}{requirement.specifier}"
            if not hashes or "==" not in pin:
                raise WheelhouseError(f"not an exact, hashed pin: {line}")
            entries.append(f"{pin} --hash{hashes}")
    return entries


def build(project_root: Path, out: Path, target: Target = CLUSTER) -> list[Path]:
    """Write ``out/requirements.txt`` and download its wheels to ``out/wheels``; the wheels."""
    entries = for_target(export(project_root), target)
    shutil.rmtree(out, ignore_errors=True)
    (out / WHEELS).mkdir(parents=True)
    (out / REQUIREMENTS).write_text("".join(f"{e}\n" for e in entries))
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += [arg for tag in target.platforms() for arg in ("--platform", tag)]
    command += ["--python-version", target.python]
    command += ["--implementation", "cp", "--abi", target.abi]
    command += ["-r", str(out / REQUIREMENTS), "-d", str(out / WHEELS)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise WheelhouseError(f"no wheel for {target} of every pinned requirement: {done.stderr.strip()}")
    wheels = sorted((out / WHEELS).glob("*.whl"))
    if len(wheels) != len(entries):
        raise WheelhouseError(f"{len(entries)} requirements, {len(wheels)} wheels in {out / WHEELS}")
    return wheels


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="emr_wheels", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--python", default=CLUSTER.python)
    parser.add_argument("--platform", default=CLUSTER.platform)
    args = parser.parse_args(argv)
    target = Target(args.python, args.platform)
    wheels = build(Path.cwd(), args.out, target)
    print(f"{len(wheels)} wheels for Python {target.python} on {target.platform} in {args.out / WHEELS}")


if __name__ == "__main__":
    main()
