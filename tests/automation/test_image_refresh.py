"""The quarterly image refresh: scripts/refresh_images.py against registries answered here (Docker
Hub's tag pages, PyPI's JSON), on copies of the containers' files, and the workflow that runs it.

The registries' shapes are their documented JSON APIs: Docker Hub's `v2/repositories/<namespace>/
<repository>/tags` (`results[].name`, `next`), PyPI's `pypi/<name>/json` (`releases` -> files with
`packagetype` and `yanked`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from scripts import refresh_images

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "image-refresh.yml"


def wheel(yanked: bool = False) -> dict:
    return {"packagetype": "bdist_wheel", "yanked": yanked}


SDIST = {"packagetype": "sdist", "yanked": False}
PYPI = {
    "numpy": {"2.4.6": [wheel()], "2.4.7": [wheel()], "2.4.8rc1": [wheel()], "2.4.9": [wheel(yanked=True)],
              "2.4.10": [SDIST], "2.5.0": [wheel()], "2.4.8.post1": [wheel()]},
    "scipy": {"1.17.1": [wheel()]},
    "xgboost-cpu": {"3.2.0": [wheel()], "3.2.1": [wheel(), SDIST]},
    "uvicorn": {"0.54.0": [wheel()], "0.54.2": [wheel()], "0.55.0": [wheel()]},
    "click": {"8.5.1": [wheel()]}, "h11": {"0.16.0": [wheel()]}, "httptools": {"0.9.0": [wheel()]},
    "uvloop": {"0.23.0": [wheel()]},
}
TAG_PAGES = {
    refresh_images.DOCKER_TAGS.format(prefix="3.11."): {
        "results": [{"name": "3.11.9-slim-bookworm"}, {"name": "3.11.12-slim-bullseye"}, {"name": "3.11.12rc1-slim-bookworm"}],
        "next": "https://hub.docker.com/page2"},
    "https://hub.docker.com/page2": {"results": [{"name": "3.11.11-slim-bookworm"}, {"name": "3.11.11"}], "next": None},
}


def fetch(url: str) -> dict:
    if url in TAG_PAGES:
        return TAG_PAGES[url]
    name = url.removeprefix("https://pypi.org/pypi/").removesuffix("/json")
    return {"releases": PYPI[name]}


@pytest.fixture
def copies(tmp_path, monkeypatch):
    """The containers' Dockerfiles and requirements, copied; the script pointed at the copies."""
    for image in ("training", "inference"):
        for name in ("Dockerfile", "requirements.txt"):
            target = tmp_path / "containers" / image / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / "containers" / image / name, target)
    monkeypatch.setattr(refresh_images, "ROOT", tmp_path)
    monkeypatch.setattr(refresh_images, "DOCKERFILES", [tmp_path / "containers" / i / "Dockerfile" for i in ("training", "inference")])
    monkeypatch.setattr(refresh_images, "REQUIREMENTS", [tmp_path / "containers" / i / "requirements.txt"
                                                         for i in ("training", "inference")])
    return tmp_path


def pins(path: Path) -> dict[str, str]:
    return {m["name"]: m["version"] for m in refresh_images.PIN_RE.finditer(path.read_text())}


def test_the_base_image_moves_to_the_newest_slim_bookworm_patch_of_its_minor_version_across_pages():
    assert refresh_images.newest_base_patch("3.11", fetch) == 11


@pytest.mark.parametrize("name, pinned, newest", [
    ("numpy", "2.4.6", "2.4.7"),  # not 2.4.8rc1 or .post1, not the yanked 2.4.9, not the sdist-only 2.4.10, not 2.5.0
    ("xgboost-cpu", "3.2.0", "3.2.1"),
    ("uvicorn", "0.54.0", "0.54.2"),
    ("scipy", "1.17.1", "1.17.1"),
])
def test_a_pin_moves_to_the_newest_final_release_with_a_wheel_within_its_minor_version(name, pinned, newest):
    assert refresh_images.newest_package_patch(name, pinned, fetch) == newest


def test_a_refresh_rewrites_both_images_alike_and_says_what_changed(copies, capsys):
    summary = copies / "refresh.md"
    assert refresh_images.main(["--summary", str(summary)], fetch=fetch) == 0

    training, inference = (pins(copies / "containers" / i / "requirements.txt") for i in ("training", "inference"))
    assert training == {"numpy": "2.4.7", "scipy": "1.17.1", "xgboost-cpu": "3.2.1"}
    assert {k: inference[k] for k in training} == training and inference["uvicorn"] == "0.54.2"
    for image in ("training", "inference"):
        text = (copies / "containers" / image / "Dockerfile").read_text()
        assert "FROM python:3.11.11-slim-bookworm" in text and "3.11.7" not in text
    assert summary.read_text() == capsys.readouterr().out
    assert "`containers/training/requirements.txt`: numpy 2.4.6 → 2.4.7" in summary.read_text()
    assert "`containers/inference/Dockerfile`: base image python 3.11.7-slim-bookworm → 3.11.11-slim-bookworm" in summary.read_text()


def test_check_mode_writes_nothing(copies):
    before = {p: p.read_text() for p in copies.rglob("*") if p.is_file()}
    assert refresh_images.main(["--check"], fetch=fetch) == 0
    assert {p: p.read_text() for p in before} == before


def test_an_unreachable_registry_is_one_error_line_and_exit_code_1(copies, capsys):
    def offline(url: str) -> dict:
        raise OSError("no route to host")
    assert refresh_images.main([], fetch=offline) == 1
    assert capsys.readouterr().err == "error: no route to host\n"


def test_nothing_to_refresh_says_so(copies, capsys):
    pinned = {**pins(copies / "containers/training/requirements.txt"), **pins(copies / "containers/inference/requirements.txt")}

    def current(url: str) -> dict:
        if "hub.docker.com" in url:
            return {"results": [{"name": "3.11.7-slim-bookworm"}], "next": None}
        return {"releases": {pinned[url.removeprefix("https://pypi.org/pypi/").removesuffix("/json")]: [wheel()]}}

    assert refresh_images.main([], fetch=current) == 0
    assert capsys.readouterr().out == "Every base image and pinned package is at its newest patch release.\n"


# --- The workflow ----------------------------------------------------------------------------

def test_the_workflow_runs_quarterly_refreshes_then_tests_then_opens_the_pull_request():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (schedule,) = workflow[True]["schedule"]
    minute, hour, day, months, weekday = schedule["cron"].split()
    assert (day, months, weekday) == ("1", "1,4,7,10", "*")
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"} and workflow["permissions"] == {}
    runs = [step.get("run", "") for step in job["steps"]]
    order = [next(i for i, run in enumerate(runs) if marker in run)
             for marker in ("scripts/refresh_images.py", "pip install -r requirements-dev.txt", "pytest", "gh pr create")]
    assert order == sorted(order)
    assert (ROOT / "scripts" / "refresh_images.py").is_file()
    assert "secrets." not in WORKFLOW.read_text()
