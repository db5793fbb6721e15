"""Shared fixtures. The program only ever runs through the offline engine, which sets Pulumi's
mocks itself before running `__main__.py` in a fresh context for each stack."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from automation import offline  # noqa: E402


@functools.cache
def _cached_plan(stack: str) -> offline.Plan:
    return offline.plan(stack)


@pytest.fixture(scope="session")
def plan_for():
    """plan_for("dev") -> the offline plan of that stack's own config (cached: plans are read-only)."""
    return _cached_plan


@pytest.fixture(params=["dev", "prod"])
def stack_plan(request, plan_for) -> offline.Plan:
    """The plan of each shipped stack, for properties every environment must have."""
    return plan_for(request.param)
