"""What the AWS provider's own SDK says about a resource type, read from pulumi_aws itself."""

from __future__ import annotations

import functools
import importlib

# Python module names that differ from the type token's module (a Python keyword).
_MODULE_NAMES = {"lambda": "lambda_"}


@functools.cache
def args_class(type_token: str) -> type | None:
    """The `<Resource>Args` class of an `aws:<module>/<name>:<Resource>` type, or None."""
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != "aws":
        return None
    module = parts[1].split("/")[0]
    try:
        package = importlib.import_module(f"pulumi_aws.{_MODULE_NAMES.get(module, module)}")
    except ImportError:
        return None
    return getattr(package, f"{parts[2]}Args", None)


def taggable(type_token: str) -> bool:
    """Whether the provider tags resources of this type: it has a `tags` input, so the provider's
    `default_tags` apply to it (pulumi-aws applies them to every resource with `tags`/`tagsAll`)."""
    args = args_class(type_token)
    return args is not None and isinstance(getattr(args, "tags", None), property)
