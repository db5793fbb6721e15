"""The quarterly image refresh: move both containers to the newest patch releases within their pins.

    python3 scripts/refresh_images.py [--check] [--summary FILE]

- The base image `FROM python:X.Y.Z-slim-bookworm` of containers/training and containers/inference
  becomes the newest `X.Y.*-slim-bookworm` tag Docker Hub has for the official python image (same
  minor version: the tests hold it to the venv's Python, and packages are pinned for it).
- Each exact pin `name==X.Y.Z` of their requirements.txt becomes the newest `X.Y.*` release on
  PyPI that is not a pre-release, not yanked, and has a wheel (the images install binary wheels
  only). Packages shared by both files get the same version in both (the inference image must
  score with the xgboost, numpy and scipy that trained the model).

`--check` prints what would change and writes nothing; `--summary FILE` writes the changes as
Markdown (the pull request's body). Standard library only: it runs before the venv exists
(.github/workflows/image-refresh.yml). Exit code 0 whether or not anything changed; 1 when a
registry cannot be read.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILES = [ROOT / "containers" / name / "Dockerfile" for name in ("training", "inference")]
REQUIREMENTS = [ROOT / "containers" / name / "requirements.txt" for name in ("training", "inference")]
BASE_RE = re.compile(r"^FROM python:(?P<minor>\d+\.\d+)\.(?P<patch>\d+)-slim-bookworm$", re.MULTILINE)
PIN_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\d+\.\d+\.\d+)$", re.MULTILINE)
RELEASE_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")  # final releases only: no rc, dev, post or local parts
DOCKER_TAGS = "https://hub.docker.com/v2/repositories/library/python/tags?name={prefix}&page_size=100"
PYPI = "https://pypi.org/pypi/{name}/json"
TIMEOUT_SECONDS = 30

Fetch = Callable[[str], dict]


@dataclass(frozen=True)
class Change:
    path: Path
    what: str
    old: str
    new: str

    def line(self) -> str:
        return f"- `{self.path.relative_to(ROOT).as_posix()}`: {self.what} {self.old} → {self.new}"


def fetch_json(url: str) -> dict:
    request = urllib.request.Request(url, headers={"User-Agent": "mlops-platform image refresh"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 - fixed https URLs
        return json.load(answer)


def newest_base_patch(minor: str, fetch: Fetch) -> int:
    """The newest Z of the `python:<minor>.Z-slim-bookworm` tags Docker Hub lists (all pages)."""
    url, patches = DOCKER_TAGS.format(prefix=f"{minor}."), []
    pattern = re.compile(rf"^{re.escape(minor)}\.(\d+)-slim-bookworm$")
    while url:
        page = fetch(url)
        patches += [int(m.group(1)) for tag in page.get("results", []) if (m := pattern.match(tag.get("name", "")))]
        url = page.get("next")
    if not patches:
        raise LookupError(f"Docker Hub lists no python:{minor}.*-slim-bookworm tag")
    return max(patches)


def newest_package_patch(name: str, version: str, fetch: Fetch) -> str:
    """The newest final, unyanked release of `name` with `version`'s major.minor and a wheel."""
    major, minor, _ = version.split(".")
    candidates = []
    for release, files in fetch(PYPI.format(name=name)).get("releases", {}).items():
        match = RELEASE_RE.match(release)
        usable = [f for f in files if f.get("packagetype") == "bdist_wheel" and not f.get("yanked")]
        if match and match.group(1, 2) == (major, minor) and usable:
            candidates.append((int(match.group(3)), release))
    return max(candidates)[1] if candidates else version


def refresh_dockerfile(path: Path, fetch: Fetch, write: bool) -> list[Change]:
    text = path.read_text()
    match = BASE_RE.search(text)
    if not match:
        raise ValueError(f"{path}: no `FROM python:X.Y.Z-slim-bookworm` line")
    newest = newest_base_patch(match["minor"], fetch)
    if newest <= int(match["patch"]):
        return []
    old, new = f"{match['minor']}.{match['patch']}", f"{match['minor']}.{newest}"
    if write:  # the FROM line and the comments that name the version with it
        path.write_text(re.sub(rf"\b{re.escape(old)}\b", new, text))
    return [Change(path, "base image python", f"{old}-slim-bookworm", f"{new}-slim-bookworm")]


def refresh_requirements(paths: Iterable[Path], fetch: Fetch, write: bool) -> list[Change]:
    texts = {path: path.read_text() for path in paths}
    pins = {m["name"].lower(): m["version"] for text in texts.values() for m in PIN_RE.finditer(text)}
    newest = {name: newest_package_patch(name, version, fetch) for name, version in sorted(pins.items())}
    changes = []
    for path, text in texts.items():
        def bump(match: re.Match, path: Path = path) -> str:
            target = newest[match["name"].lower()]
            if target != match["version"]:
                changes.append(Change(path, match["name"], match["version"], target))
            return f"{match['name']}=={target}"
        updated = PIN_RE.sub(bump, text)
        if write and updated != text:
            path.write_text(updated)
    return changes


def summary(changes: list[Change]) -> str:
    if not changes:
        return "Every base image and pinned package is at its newest patch release.\n"
    return ("Quarterly image refresh (`scripts/refresh_images.py`): the newest patch releases within the pins.\n\n"
            + "\n".join(change.line() for change in changes)
            + "\n\nThe tests passed with these versions before this pull request was opened. Pull requests opened "
              "with the workflow's token start no workflows: close and reopen this one to run its plan and preview "
              "stack, which builds both images (docs/runbook.md, section 5).\n")


def main(argv: list[str] | None = None, fetch: Fetch = fetch_json) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="print what would change; write nothing")
    parser.add_argument("--summary", type=Path, help="write the changes as Markdown to this file")
    args = parser.parse_args(argv)
    try:
        changes = [c for path in DOCKERFILES for c in refresh_dockerfile(path, fetch, not args.check)]
        changes += refresh_requirements(REQUIREMENTS, fetch, not args.check)
    except (OSError, LookupError, ValueError, json.JSONDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    text = summary(changes)
    print(text, end="")
    if args.summary:
        args.summary.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
