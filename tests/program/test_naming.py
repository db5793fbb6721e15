"""Physical names: stage in every name, AWS limits respected, stable and collision-free."""

from __future__ import annotations

import fnmatch
import re

from hypothesis import given
from hypothesis import strategies as st

from components.naming import LIMITS, Namer, shorten

stacks = st.one_of(st.sampled_from(["dev", "prod"]), st.integers(1, 10**7).map(lambda n: f"pr-{n}"))
purposes = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=200)


def test_short_names_are_project_stack_purpose():
    assert Namer("mlops-platform", "dev").name("churn-endpoint") == "mlops-platform-dev-churn-endpoint"


@given(stack=stacks, purpose=purposes, kind=st.sampled_from(sorted(LIMITS)))
def test_names_fit_their_service_limits(stack, purpose, kind):
    name = Namer("mlops-platform", stack).name(purpose, kind)
    limit = LIMITS[kind]
    assert len(name) <= limit.max_length
    assert not re.search(limit.invalid, name)
    if limit.lowercase:
        assert name == name.lower()


@given(stack=stacks, purpose=purposes)
def test_names_always_carry_the_stack(stack, purpose):
    assert f"-{stack}-" in Namer("mlops-platform", stack).name(purpose, "sagemaker")


@given(a=purposes, b=purposes)
def test_shortened_names_stay_distinct(a, b):
    namer = Namer("mlops-platform", "pr-1234")
    if a != b:
        assert namer.name(a, "lambda") != namer.name(b, "lambda")


def test_shortening_is_stable_and_marked_by_a_hash():
    long = "x" * 100
    assert shorten(long, 63) == shorten(long, 63)
    assert len(shorten(long, 63)) == 63
    assert re.fullmatch(r"x+-[0-9a-f]{8}", shorten(long, 63))


def test_bucket_prefix_leaves_room_for_the_unique_suffix():
    prefix = Namer("mlops-platform", "pr-99999").bucket_prefix("artifacts-for-a-very-long-purpose")
    assert prefix.endswith("-") and len(prefix) <= 37


@given(stack=stacks, purpose=purposes, kind=st.sampled_from(["sns", "events_rule", "alarm", "state_machine"]))
def test_the_stack_pattern_matches_every_name_of_the_stack_and_no_other_stacks(stack, purpose, kind):
    """Policies that admit "this stack's rules, alarms and topics" (the key and topic policies)
    rely on every such name fitting `<project>-<stack>-*`, shortened or not."""
    namer = Namer("mlops-platform", stack)
    assert fnmatch.fnmatchcase(namer.name(purpose, kind), namer.pattern())
    for other in (f"{stack}0", "x" + stack):
        assert not fnmatch.fnmatchcase(Namer("mlops-platform", other).name(purpose, kind), namer.pattern())
