"""What deploying a changed stack config would do, from two offline plans, before it happens.

`pulumi preview` compares the program with the deployed state; this compares two plans of the
program (the config before and after an edit) the same way, offline: a resource whose inputs
changed is updated, or replaced when a changed input is one of its `replace_on_changes` paths
(the program declares them where AWS cannot update in place: components/feature_store.py);
a resource only in the second plan is created, one only in the first deleted. Aliases count, as
the engine counts them. Replacing or deleting some resources loses data (CONSEQUENCES): a feature
group's online store goes with it. Protected resources (prod) are never replaced or deleted by
the engine: the change is refused, and says so.

    venv/bin/python -m automation.plan_diff dev                  # the stack file against git HEAD's
    venv/bin/python -m automation.plan_diff dev --before old.yaml --after Pulumi.dev.yaml

Exit status: 0 nothing is lost, 1 some change loses data or is refused, 2 the plans could not be made.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from automation import offline  # noqa: E402
from automation.offline import Plan, PlannedResource  # noqa: E402

# What is lost with a resource of this type when it is replaced or deleted.
CONSEQUENCES = {
    "aws:sagemaker/featureGroup:FeatureGroup":
        "online data lost: the group is deleted and created again empty; the offline store's files stay in "
        "S3, but the new group writes a new folder and Glue table (docs/runbook.md, Add a feature safely)",
}
LOSSY = ("replace", "delete")


@dataclass(frozen=True)
class Change:
    action: str  # create, update, replace or delete
    resource: PlannedResource
    properties: tuple[str, ...] = ()  # changed input paths (for replace: those that force it)

    @property
    def refused(self) -> bool:
        """The engine will not replace or delete a protected resource."""
        return self.action in LOSSY and self.resource.protect

    @property
    def consequence(self) -> str | None:
        return CONSEQUENCES.get(self.resource.type) if self.action in LOSSY else None

    @property
    def loses_data(self) -> bool:
        return self.consequence is not None or self.refused

    def describe(self) -> str:
        what = f"{self.action:<8} {self.resource.type}  {self.resource.name}"
        if self.properties:
            what += f"  ({', '.join(self.properties)})"
        if self.action == "replace":
            what += ": would be replaced" if self.refused else ": will be replaced"
        if self.consequence:
            what += f", {self.consequence}"
        if self.refused:
            what += ". Refused: the resource is protected, so the deploy stops there and nothing is lost"
        return what


def comparable(value: Any) -> Any:
    """Assets and archives by what the engine compares, their content (a hash of each file)."""
    if isinstance(value, pulumi.AssetArchive):
        return {name: comparable(asset) for name, asset in value.assets.items()}
    if isinstance(value, pulumi.FileAsset):
        path = Path(value.path)
        return {"file": value.path, "sha256": hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None}
    if isinstance(value, (pulumi.StringAsset, pulumi.FileArchive, pulumi.RemoteAsset, pulumi.RemoteArchive)):
        return {type(value).__name__: getattr(value, "text", None) or getattr(value, "path", None) or value.uri}
    return value


def changed_paths(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted paths where two input values differ: objects present on both sides are compared
    key by key, anything else (lists included) as a whole."""
    old, new = comparable(old), comparable(new)
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        paths = []
        for key in sorted(set(old) | set(new)):
            paths += changed_paths(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return paths
    return [] if old == new else [path]


def _forces_replacement(path: str, replace_on_changes: Sequence[str]) -> bool:
    return any(path == p or path.startswith(f"{p}.") or p.startswith(f"{path}.") for p in replace_on_changes)


def diff(before: Plan, after: Plan) -> list[Change]:
    """Every resource the second plan would create, update, replace or delete, in plan order."""
    olds = {r.urn: r for r in before.resources if r.custom}
    changes, adopted = [], set()
    for new in (r for r in after.resources if r.custom):
        old_urn = next((urn for urn in (new.urn, *new.aliases) if urn in olds and urn not in adopted), None)
        if old_urn is None:
            changes.append(Change("create", new))
            continue
        adopted.add(old_urn)
        paths = changed_paths(olds[old_urn].inputs, new.inputs)
        forcing = tuple(p for p in paths if _forces_replacement(p, new.replace_on_changes))
        if forcing:
            changes.append(Change("replace", olds[old_urn], forcing))
        elif paths:
            changes.append(Change("update", new, tuple(paths)))
    changes += [Change("delete", old) for urn, old in olds.items() if urn not in adopted]
    return changes


def render(changes: Sequence[Change]) -> str:
    if not changes:
        return "No changes."
    lines = [change.describe() for change in changes]
    lossy = [c for c in changes if c.loses_data]
    lines.append("")
    lines.append(f"{len(changes)} change(s); {len(lossy)} lose data or are refused" if lossy
                 else f"{len(changes)} change(s); nothing is lost")
    return "\n".join(lines)


def committed_stack_file(stack: str, scratch: Path, work_dir: Path = offline.ROOT) -> Path:
    """The stack file as git HEAD has it (read-only: `git show`)."""
    name = offline.stack_config_path(stack, work_dir).name
    shown = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=work_dir, capture_output=True, text=True, check=False)
    if shown.returncode != 0:
        raise offline.ProjectError(f"git HEAD has no {name} ({shown.stderr.strip()}); pass --before")
    path = scratch / name
    path.write_text(shown.stdout)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m automation.plan_diff", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--before", type=Path, help="stack file before the change (default: as committed at git HEAD)")
    parser.add_argument("--after", type=Path, help="stack file after the change (default: Pulumi.<stack>.yaml)")
    args = parser.parse_args(argv)
    from components.config import ConfigError

    try:
        with tempfile.TemporaryDirectory(prefix="mlops-plan-diff-") as scratch:
            before_file = args.before or committed_stack_file(args.stack, Path(scratch))
            before = offline.plan(args.stack, stack_file=before_file.resolve())
            after = offline.plan(args.stack, stack_file=args.after.resolve() if args.after else None)
    except (offline.ProjectError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    changes = diff(before, after)
    print(render(changes))
    return 1 if any(c.loses_data for c in changes) else 0


if __name__ == "__main__":
    sys.exit(main())
