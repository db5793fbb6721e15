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
