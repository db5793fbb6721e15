"""Fixtures of the guardrail tests: each plan they cover (guardrail_plans.py makes them)."""

from __future__ import annotations

import pytest
from guardrail_plans import PLANS, guardrail_plan

from automation import offline


@pytest.fixture(params=PLANS)
def plan_name(request) -> str:
    return request.param


@pytest.fixture
def plan(plan_name) -> offline.Plan:
    """Each plan the guardrails cover (made once, shared: plans are read-only)."""
    return guardrail_plan(plan_name)
