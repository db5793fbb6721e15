"""stackfile.set_value: one nested value of a stack file changes, every other byte stays.

models.py writes `endpoint.variants` of one model with it; whatever it writes must read back,
as the Pulumi CLI reads it (stackfile.parse follows yaml.v3), as exactly the value written.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automation import stackfile
from automation.stackfile import ItemWith, StackFileError

PATH = ("config", ("mlops-platform:models", "models"), ItemWith("name", "churn"), "endpoint", "variants")
HEAD = """\
# a comment that stays
config:
  aws:region: us-east-1   # and this one
  mlops-platform:models:
    - name: fraud
      endpoint:
        variants: [{name: champion, weight: 1.0, modelVersion: 4}]
    - name: churn
      threshold: 0.8
"""
TAIL = """\
  mlops-platform:alerting:
    emails: []
"""
VARIANTS = [{"name": "champion", "weight": 0.9, "modelVersion": 3, "previousModelVersion": 2},
            {"name": "challenger", "weight": 0.1, "modelVersion": 5}]


@pytest.mark.parametrize("endpoint, edited", [
    # a block list: replaced in block style, at its own indentation
    ("""\
      endpoint:
        mode: serverless
        variants:
          - name: champion   # the first one
            weight: 1.0
""", """\
      endpoint:
        mode: serverless
        variants:
          - name: champion
            weight: 0.9
            modelVersion: 3
            previousModelVersion: 2
          - name: challenger
            weight: 0.1
            modelVersion: 5
"""),
    # an indentless block list (`-` under the key's own column)
    ("""\
      endpoint:
        variants:
        - name: champion
          weight: 1.0
""", """\
      endpoint:
        variants:
        - name: champion
          weight: 0.9
          modelVersion: 3
          previousModelVersion: 2
        - name: challenger
          weight: 0.1
          modelVersion: 5
"""),
    # a flow list stays flow
    ("""\
      endpoint:
        variants: [{name: champion, weight: 1.0}]  # flow
""", "      endpoint:\n        variants: [{name: champion, weight: 0.9, modelVersion: 3, previousModelVersion: 2}, "
        "{name: challenger, weight: 0.1, modelVersion: 5}]  # flow\n"),
    # no variants yet: added as the endpoint's last key
    ("""\
      endpoint:
        mode: serverless
""", """\
      endpoint:
        mode: serverless
        variants:
          - name: champion
            weight: 0.9
            modelVersion: 3
            previousModelVersion: 2
          - name: challenger
            weight: 0.1
            modelVersion: 5
"""),
    # no endpoint at all: added as the model's last key
    ("", """\
      endpoint:
        variants:
          - name: champion
            weight: 0.9
            modelVersion: 3
            previousModelVersion: 2
          - name: challenger
            weight: 0.1
            modelVersion: 5
"""),
])
def test_only_the_variants_change(endpoint, edited):
    text = HEAD + endpoint + TAIL
    result = stackfile.set_value(text, "Pulumi.dev.yaml", PATH, VARIANTS)
    assert result == HEAD + edited + TAIL
    assert stackfile._value_at(stackfile.parse(result, "x"), PATH) == VARIANTS


@pytest.mark.parametrize("text, message", [
    (HEAD.replace("name: churn", "name: churn2") + TAIL, "has no item with name: churn in this list"),
    ("config:\n  mlops-platform:models: churn\n", "expected a list holding an item with name: churn"),
    ("config:\n  mlops-platform:models:\n    - {name: churn, threshold: 0.8}\n", "cannot add 'endpoint' to a mapping in flow style"),
    ("", "is empty"),
])
def test_what_cannot_be_edited_is_one_error_with_its_place(text, message):
    with pytest.raises(StackFileError, match=message):
        stackfile.set_value(text, "Pulumi.dev.yaml", PATH, VARIANTS)


@pytest.mark.parametrize("value", ["true", "yes", "1e3", "0x10", "null", "~", "2030-03-06", "a: b", "#x", "- x",
                                   "it's", "", " x", "[1]", "{a}", "x,y", "*alias", "&anchor", "!tag", "%x", "@x", "`x",
                                   "1.0", ".inf", "champion"])
def test_text_that_could_read_as_something_else_is_quoted(value):
    text = HEAD + TAIL
    result = stackfile.set_value(text, "x", PATH, [{"name": value, "weight": 1.0}])
    assert stackfile._value_at(stackfile.parse(result, "x"), PATH) == [{"name": value, "weight": 1.0}]


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"), max_size=12))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.text("abcdefgh-_", min_size=1, max_size=6), inner, max_size=3)), max_leaves=12)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(value=VALUES, endpoint=st.sampled_from(["", "      endpoint:\n        mode: serverless\n",
                                               "      endpoint:\n        variants:\n          - name: a\n",
                                               "      endpoint:\n        variants: []\n"]))
def test_any_value_reads_back_as_written(value: Any, endpoint: str):
    result = stackfile.set_value(HEAD + endpoint + TAIL, "x", PATH, value)
    document = stackfile.parse(result, "x")
    assert stackfile._value_at(document, PATH) == value
    assert document["config"]["mlops-platform:alerting"] == {"emails": []}
    assert result.startswith(HEAD[:HEAD.index("    - name: churn")])
