"""Resource options every component uses, so protection is decided in one place."""

from __future__ import annotations

import pulumi

from components.config import PlatformConfig


def child(parent: pulumi.Resource, **extra) -> pulumi.ResourceOptions:
    """Options for an ordinary child resource."""
    return pulumi.ResourceOptions(parent=parent, **extra)


def stateful(parent: pulumi.Resource, cfg: PlatformConfig, **extra) -> pulumi.ResourceOptions:
    """Options for resources that hold data or history (buckets, keys, registries, log groups).

    In protected stacks (prod) they cannot be deleted by `pulumi destroy` or a replacement, and
    even when an operator unprotects and removes them from the program, AWS keeps them.
    """
    return pulumi.ResourceOptions(parent=parent, protect=cfg.protect, retain_on_delete=cfg.protect, **extra)


def formerly(old_name: str) -> list[pulumi.Alias]:
    """Aliases for a child renamed from `old_name`, for `aliases=`.

    Children are named after their component (`f"{name}-data"`) so a component can exist twice;
    stacks deployed before that rename hold their resources under the old names, and without the
    alias the engine would create new resources and delete the old ones (a new bucket, topic...).
    Grandchildren named after a renamed child (`f"{name}-policy"`) follow it without an alias of
    their own: the engine derives theirs from their parent's.
    """
    return [pulumi.Alias(name=old_name)]
