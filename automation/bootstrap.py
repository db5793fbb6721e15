"""Before a command line imports the project's dependencies: run it under the project's venv, or say
how to set one up, instead of ending in a ModuleNotFoundError.

Standard library only, like exit_codes.py: it runs before anything else of the project is importable.
`deploy.py` and `models.py` call `ensure_dependencies(Path(__file__))` first thing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from automation.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parent.parent
# What the command lines and the program import: checked before any of it is.
REQUIRED_MODULES = ("yaml", "pulumi", "pulumi_aws", "boto3", "botocore")
SETUP_COMMAND = "python3 -m venv venv && venv/bin/pip install -r requirements-dev.txt"
VENV_PYTHON = ROOT / "venv" / "bin" / "python"
# Set before re-running under the project's venv, so a venv that lacks them too can never loop.
REEXEC_GUARD = "MLOPS_DEPLOY_REEXEC"


def missing_modules() -> list[str]:
    """The required modules this Python cannot find (found, not imported: nothing runs yet)."""
    return [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]


def ensure_dependencies(script: Path) -> None:
    """Go on with this Python, re-run `script` under the project's venv, or exit SETUP saying how to set up."""
    missing = missing_modules()
    if not missing:
        os.environ.pop(REEXEC_GUARD, None)  # not for the Pulumi CLI and the program it starts
        return
    if REEXEC_GUARD not in os.environ and os.access(VENV_PYTHON, os.X_OK) \
            and Path(sys.executable).absolute() != VENV_PYTHON.absolute():
        os.environ[REEXEC_GUARD] = "1"
        try:
            os.execv(VENV_PYTHON, [str(VENV_PYTHON), str(script.resolve()), *sys.argv[1:]])
        except OSError:
            pass  # a venv that cannot run: the sentence below says how to make one
    print(f"{script.name}: error: this Python ({sys.executable}) lacks the project's dependencies ({', '.join(missing)} "
          f"not found) and there is no usable venv/ to run instead; set up from the repository root with "
          f"`{SETUP_COMMAND}` (README, Quick start), then run `venv/bin/python automation/{script.name} ...`",
          file=sys.stderr)
    sys.exit(ExitCode.SETUP)
