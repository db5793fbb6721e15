"""The inference image, checked without Docker: its pins are what the tests run with, its
Dockerfile follows the image rules, and the package set it installs, pruned the way the
Dockerfile prunes it, still runs the server's code and scores a model.

The pruned set is rebuilt from this environment's own installed files (links, nothing
downloaded) and the model code runs against it in a fresh interpreter that sees only the
standard library, that set and this repository.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from inference_support import REPO, train_model

from containers.inference import environment, prune_packages

CONTAINER = REPO / "containers" / "inference"
TRAINING = REPO / "containers" / "training"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"unpinned requirement in {path.name}: {line}"
            pins[name.strip().lower()] = version.strip()
    return pins


def test_requirements_pin_the_whole_closure_exactly_as_the_tests_run_it() -> None:
    pins = _pins(CONTAINER / "requirements.txt")
    assert "xgboost" not in pins, "plain xgboost drags CUDA; use xgboost-cpu"
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, name
    for name in pins:  # --no-deps in the Dockerfile: every dependency must be listed
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" in requirement or "sys_platform == \"win32\"" in requirement or "python_version < " in requirement:
                continue
            dependency = re.split(r"[ <>=!;\[(~]", requirement, maxsplit=1)[0].lower()
            assert dependency in pins, f"{name} needs {dependency}, which is not pinned"


def test_the_model_is_scored_by_the_xgboost_that_trained_it() -> None:
    serving, training = _pins(CONTAINER / "requirements.txt"), _pins(TRAINING / "requirements.txt")
    for shared in ("xgboost-cpu", "numpy", "scipy"):
        assert serving[shared] == training[shared], shared


def test_dockerfile_follows_the_image_rules() -> None:
    text = (CONTAINER / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    base = re.search(r"^FROM (python:(\d+)\.(\d+)\.(\d+)-slim-bookworm)$", text, re.M)
    assert base, "base image must be an exact python:X.Y.Z-slim-bookworm tag"
    assert (int(base.group(2)), int(base.group(3))) == sys.version_info[:2]
    assert re.search(r"^FROM (.+)$", (TRAINING / "Dockerfile").read_text(), re.M).group(1) == base.group(1), "same base as training"
    assert 'ENTRYPOINT ["serve"]' in instructions
    assert "EXPOSE 8080" in instructions
    assert re.search(r"^ENV PYTHONUNBUFFERED=1", text, re.M)
    assert "pip install --only-binary=:all: --no-deps -r" in text
    assert "prune_packages.py" in text
    assert not re.search(r"^USER ", text, re.M), "SageMaker hosting expects root (see the comment in the Dockerfile)"
    assert not re.search(r"(?i)(secret|password|access_key|token)\s*=", text)


def test_dockerfile_copies_only_what_its_ignore_file_allows() -> None:
    text = (CONTAINER / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    context = CONTAINER.parent
    copies = [line.split()[1:-1] for line in instructions if line.startswith("COPY ")]
    allowed = [p[1:] for p in (CONTAINER / "Dockerfile.dockerignore").read_text().split() if p.startswith("!")]
    copied = set()
    for sources in copies:
        for source in sources:
            matched = list(context.glob(source))
            assert matched, f"COPY {source} matches nothing in the build context"
            for path in matched:
                relative = path.relative_to(context).as_posix()
                assert any(Path(relative).match(pattern) for pattern in allowed), f"{relative} is dockerignored"
                copied.add(relative)
    assert {
        "__init__.py",
        "contracts/__init__.py",
        "contracts/features.py",
        "contracts/model_metadata.py",
        "inference/__init__.py",
        "inference/app.py",
        "inference/serve.py",
        "inference/bin/serve",
        "inference/requirements.txt",
        "inference/prune_packages.py",
    } <= copied
    assert all(p.split("/")[0] in ("__init__.py", "contracts", "inference") for p in copied), "nothing of another image"


def _top_level_entries(distribution: str) -> set[str]:
    files = importlib.metadata.distribution(distribution).files or []
    return {file.parts[0] for file in files if file.parts and not file.parts[0].startswith("..")}


def _image_site_packages(root: Path) -> Path:
    """Links to exactly the pinned distributions' installed files, as pip --no-deps lays them out."""
    site = root / "site-packages"
    site.mkdir()
    source = Path(importlib.metadata.distribution("numpy").locate_file(""))
    for name in _pins(CONTAINER / "requirements.txt"):
        for entry in _top_level_entries(name):
            if entry == "scipy":  # a real folder of links, so pruning removes links, never the venv's files
                (site / "scipy").mkdir()
                for child in (source / "scipy").iterdir():
                    (site / "scipy" / child.name).symlink_to(child)
            elif entry != "__pycache__":
                (site / entry).symlink_to(source / entry)
    return site


def test_the_pruned_image_packages_still_serve_a_model(tmp_path: Path) -> None:
    model_dir = train_model(tmp_path / "opt-ml")
    site = _image_site_packages(tmp_path)
    removed = {path.name for path in prune_packages.prune(site)}
    assert {"linalg", "optimize", "stats", "signal"} <= removed
    assert not removed & prune_packages.KEEP_SCIPY
    assert (Path(importlib.metadata.distribution("scipy").locate_file("scipy")) / "linalg").is_dir(), "the venv was not touched"
    script = f"""
import json, sys
import numpy as np
from pathlib import Path
from containers.inference import app, serve
from containers.inference.model import load
model = load(Path({str(model_dir)!r}))
scores = model.predict(np.array([[12, 70.5, 846.0, 2, 0, 3, 1, 1, 14]], dtype=float))
files = [getattr(m, "__file__", None) for m in list(sys.modules.values())]
print(json.dumps({{"score": float(scores[0]), "files": sorted(f for f in files if f)}}))
"""
    result = subprocess.run(
        [sys.executable, "-S", "-c", script],
        env={"PYTHONPATH": f"{site}:{REPO}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert 0 < report["score"] < 1
    stdlib = sysconfig.get_paths()["stdlib"]

    def from_the_image(file: str) -> bool:
        return file.startswith((str(site), str(REPO / "containers"))) or (file.startswith(stdlib) and "site-packages" not in file)

    assert [f for f in report["files"] if not from_the_image(f)] == [], "only the image's packages were used"
    assert any(f.startswith(str(site / "xgboost")) for f in report["files"])


def test_prune_removes_unused_scipy_and_test_suites_only(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    kept = ["numpy/_core/multiarray.py", "xgboost/core.py", "scipy/version.py", "scipy/sparse/_csr.py", "scipy/special/_basic.py",
            "scipy/_lib/_util.py", "uvicorn/tests_helpers.py", "uvicorn/tests/x.py"]
    removed = ["numpy/_core/tests/test_x.py", "xgboost/testing/tests/t.py", "scipy/linalg/_basic.py", "scipy/sparse/tests/t.py",
               "scipy/stats/tests/t.py"]
    for relative in kept + removed:
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text("")
    prune_packages.prune(site)
    assert [r for r in kept if not (site / r).exists()] == []
    assert [r for r in removed if (site / r).exists()] == []


def test_prune_script_has_no_third_party_imports() -> None:
    """It runs before the package's code and its dependencies are in place."""
    text = (CONTAINER / "prune_packages.py").read_text()
    imported = set(re.findall(r"^(?:from|import) (\w+)", text, re.M))
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_requirements_dev_installs_the_serving_pins() -> None:
    assert "-r containers/inference/requirements.txt" in (REPO / "requirements-dev.txt").read_text().splitlines()


@pytest.mark.parametrize("variable", [name for name in dir(environment) if name.endswith("_ENV")])
def test_readme_documents_every_environment_variable(variable: str) -> None:
    assert f"`{getattr(environment, variable)}`" in (CONTAINER / "README.md").read_text()
