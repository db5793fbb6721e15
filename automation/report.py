"""Human-readable rendering of an offline plan: resources grouped by component, with counts."""

from __future__ import annotations

from collections import Counter

from automation.offline import Plan, PlannedResource


def _short_type(type_: str) -> str:
    """`aws:s3/bucket:Bucket` -> `aws:s3:Bucket`; components keep their last segment."""
    parts = type_.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        return f"{parts[0]}:{parts[1].split('/')[0]}:{parts[2]}"
    return type_


def _flags(resource: PlannedResource) -> str:
    flags = []
    if resource.protect:
        flags.append("protect")
    if resource.retain_on_delete:
        flags.append("retain")
    if resource.replace_on_changes:
        # Some inputs cannot change in place (a feature group's definitions): automation/plan_diff.py
        # says which edit replaces it and what is lost.
        flags.append("replaced-on-change")
    return ",".join(flags)


def render_plan(plan: Plan) -> str:
    """One block per top-level component, each resource with its type, name and options."""
    groups: dict[str, list[PlannedResource]] = {}
    stack_level: list[PlannedResource] = []
    for resource in plan.resources:
        if resource.type == "pulumi:pulumi:Stack" or not resource.custom:
            continue
        top = _top_component(plan, resource)
        if top is None:
            stack_level.append(resource)
        else:
            groups.setdefault(f"{top.name} ({top.type.split(':')[-1]})", []).append(resource)

    lines = [f"Plan for stack '{plan.stack}' of project '{plan.project}' (offline, under mocks)", ""]
    width = max((len(_short_type(r.type)) for r in plan.resources), default=20)
    for title, resources in [("stack", stack_level), *sorted(groups.items())]:
        if not resources:
            continue
        lines.append(f"{title}: {len(resources)} resource(s)")
        for resource in sorted(resources, key=lambda r: (r.type, r.name)):
            component = plan.component_of(resource)
            where = f"  [{component.name}]" if component is not None else ""
            flags = _flags(resource)
            lines.append(f"  {_short_type(resource.type):<{width}}  {resource.name}{where}"
                         + (f"  ({flags})" if flags else ""))
        lines.append("")
    custom = [r for r in plan.resources if r.custom]
    counts = Counter(r.type.split(":")[1].split("/")[0] for r in custom if r.type.startswith("aws:"))
    protected = sum(1 for r in custom if r.protect)
    lines.append(f"Total: {len(custom)} resources in {len(groups)} component(s); {protected} protected")
    lines.append("By service: " + ", ".join(f"{service} {n}" for service, n in sorted(counts.items())))
    if plan.outputs:
        lines.append("")
        lines.append("Outputs (offline values):")
        for name, value in sorted(plan.outputs.items()):
            lines.append(f"  {name}: {value}")
    return "\n".join(lines)


def _top_component(plan: Plan, resource: PlannedResource) -> PlannedResource | None:
    top = None
    component = plan.component_of(resource)
    while component is not None:
        top = component
        component = plan.component_of(component)
    return top
