"""Unpack the numpy the drift function ships with: build/lambda-packages/drift-numpy/.

    venv/bin/python scripts/build_drift_numpy.py [--out DIR]

Lambda's Python runtime has no numpy, so the drift function's package carries it
(components/drift.py adds this folder's `numpy/` and `numpy.libs/` to the zip of
functions/drift). The wheel is the one for Lambda's runtime and architecture
(components/lambda_function.py RUNTIME and ARCHITECTURE: CPython 3.13 on arm64, Amazon Linux 2023
with glibc 2.34), at the numpy version the containers pin (containers/training/requirements.txt),
downloaded with pip (`--only-binary`, so nothing is built). numpy's own test suites are left out,
and every file gets a fixed time and mode: the same numpy gives the same files, so `pulumi up`
replaces the function's code only when numpy (or the function) changes. Prints the folder and
its size unpacked and zipped (what Lambda counts against its limits).

Run it before `pulumi up` / `deploy.py` of a stack whose endpoints capture requests; an offline
plan does not need it.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.drift import NUMPY_DIR  # noqa: E402
from components.lambda_function import ARCHITECTURE, RUNTIME  # noqa: E402

PINS = ROOT / "containers" / "training" / "requirements.txt"
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Amazon Linux 2023 has glibc 2.34: every manylinux tag up to it runs there.
GLIBC_TAGS = ("manylinux2014", "manylinux_2_28", "manylinux_2_34")
FIXED_TIME = 1577836800  # 2020-01-01T00:00:00Z
LEFT_OUT = re.compile(r"(^|/)tests?/|(^|/)__pycache__/|\.pyc$")


def numpy_pin(path: Path = PINS) -> str:
    match = re.search(r"^numpy==(\S+)$", path.read_text(), re.MULTILINE)
    if not match:
        raise SystemExit(f"{path} pins no numpy version")
    return match.group(1)


def download(version: str, into: Path) -> Path:
    python = RUNTIME.removeprefix("python")
    machine = MACHINES[ARCHITECTURE]
    platforms = [arg for tag in GLIBC_TAGS for arg in ("--platform", f"{tag}_{machine}")]
    subprocess.run([sys.executable, "-m", "pip", "download", f"numpy=={version}", "--only-binary=:all:", "--no-deps",
                    "--implementation", "cp", "--python-version", python, *platforms, "--dest", str(into), "--quiet"],
                   check=True)
    (wheel,) = into.glob("numpy-*.whl")
    return wheel


def unpack(wheel: Path, out: Path) -> tuple[int, int]:
    """The wheel's files into `out` (emptied first), tests left out, with fixed times and modes;
    returns (unpacked bytes, bytes once zipped as Lambda receives them)."""
    if out.exists():
        shutil.rmtree(out)
    unpacked, zipped = 0, io.BytesIO()
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as package:
        for name in sorted(n for n in source.namelist() if not n.endswith("/") and not LEFT_OUT.search(n)):
            data = source.read(name)
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(0o644)
            os.utime(target, (FIXED_TIME, FIXED_TIME))
            package.writestr(name, data)
            unpacked += len(data)
    return unpacked, len(zipped.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / NUMPY_DIR)
    args = parser.parse_args(argv)
    version = numpy_pin()
    with tempfile.TemporaryDirectory() as folder:
        unpacked, zipped = unpack(download(version, Path(folder)), args.out)
    print(f"{args.out}: numpy {version} for {RUNTIME} {ARCHITECTURE}, {unpacked / 2**20:.1f} MiB unpacked, "
          f"{zipped / 2**20:.1f} MiB zipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
