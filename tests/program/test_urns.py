"""Resource URNs as the Pulumi engine computes and checks them, offline.

The offline engine names resources the engine's way (the parent's whole type chain, no root
stack type), refuses a URN registered twice with the engine's message, and records the alias
URNs each registration names. Components name their children after themselves, so any of them
can exist twice; the children renamed for that carry aliases, and the replay below shows that a
stack deployed before the rename keeps every one of its resources.

tests/program/data/urns-<stack>.txt hold the URNs of the dev, prod and pr-1 plans before the
rename (the program at commit 04dca7f, run by the offline engine in a `git worktree`, its URNs
computed with the engine's rule from each resource's type, name and parent chain).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from automation import offline, stacks
from automation.offline import Plan, engine_urn

DATA = Path(__file__).parent / "data"
PREFIX = "urn:pulumi:{stack}::mlops-platform::"


@pytest.fixture(scope="module")
def pr_plan(tmp_path_factory) -> Plan:
    stack_file = tmp_path_factory.mktemp("pr") / "Pulumi.pr-1.yaml"
    stack_file.write_text(stacks.render_pr_config(stacks.parse_stack_name("pr-1"), dt.date(2030, 1, 1)))
    return offline.plan("pr-1", stack_file=stack_file)


@pytest.fixture(params=["dev", "prod", "pr-1"])
def any_plan(request, plan_for, pr_plan) -> Plan:
    return pr_plan if request.param == "pr-1" else plan_for(request.param)


# --- The engine's URNs -------------------------------------------------------------------------

@pytest.mark.parametrize("parent, type_, name, urn", [
    ("", "pulumi:pulumi:Stack", "p-dev", "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"),
    ("urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev", "my:index:Comp", "c", "urn:pulumi:dev::p::my:index:Comp::c"),
    ("urn:pulumi:dev::p::my:index:Comp::c", "aws:s3/bucket:Bucket", "b", "urn:pulumi:dev::p::my:index:Comp$aws:s3/bucket:Bucket::b"),
    ("urn:pulumi:dev::p::my:index:Comp$my:index:Inner::i", "aws:s3/bucket:Bucket", "b",
     "urn:pulumi:dev::p::my:index:Comp$my:index:Inner$aws:s3/bucket:Bucket::b"),
])
def test_urns_carry_the_whole_parent_type_chain_but_never_the_stack(parent, type_, name, urn):
    assert engine_urn("dev", "p", parent, type_, name) == urn


def test_the_plan_names_nested_children_as_the_engine_does(plan_for):
    bucket = plan_for("dev").get("aws:s3/bucket:Bucket", "training-data")
    assert bucket.urn == ("urn:pulumi:dev::mlops-platform::mlops:components:TrainingPipeline"
                          "$mlops:components:SecureBucket$aws:s3/bucket:Bucket::training-data")


def test_every_child_is_named_after_its_component(any_plan: Plan):
    components = {r.urn: r for r in any_plan.resources if not r.custom and r.type.startswith("mlops:")}
    misnamed = [(components[r.parent].name, r.name) for r in any_plan.resources
                if r.parent in components and not (r.name == components[r.parent].name
                                                   or r.name.startswith(components[r.parent].name + "-"))]
    assert misnamed == []


# --- Duplicates, as the engine refuses them ----------------------------------------------------

PROGRAM = """
import pulumi
import pulumi_aws as aws

from components import config as platform_config
from components.bucket import SecureBucket, SecureBucketArgs
from components.kms import PlatformKey
from components.monitoring import Monitoring, MonitoringArgs
from components.registry import ModelRegistry, ModelRegistryArgs
from components.training_pipeline import TrainingPipeline, TrainingPipelineArgs

cfg = platform_config.load()
provider = aws.Provider("aws", region=cfg.region, default_tags={{"tags": cfg.tags}})
opts = pulumi.ResourceOptions(providers=[provider])
KEY = "arn:aws:kms:us-east-1:123456789012:key/offline"
TOPIC = "arn:aws:sns:us-east-1:123456789012:offline"
GROUPS = {{m.name: f"group-{{m.name}}" for m in cfg.models}}
{body}
"""
COMPONENTS = {
    "PlatformKey": "PlatformKey({name!r}, cfg, opts=opts)",
    "Monitoring": "Monitoring({name!r}, cfg, MonitoringArgs(kms_key_arn=KEY), opts=opts)",
    "ModelRegistry": "ModelRegistry({name!r}, cfg, ModelRegistryArgs(alert_topic_arn=TOPIC), opts=opts)",
    "TrainingPipeline": ("TrainingPipeline({name!r}, cfg, TrainingPipelineArgs(kms_key_arn=KEY, alert_topic_arn=TOPIC, "
                         "model_package_groups=GROUPS), opts=opts)"),
    "SecureBucket": "SecureBucket({name!r}, cfg, SecureBucketArgs(kms_key_arn=KEY), opts=opts)",
}


def plan_program(tmp_path: Path, body: str) -> Plan:
    """Plan a small program in a project of its own (the components are the repository's)."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(offline.ROOT / name, tmp_path / name)
    (tmp_path / "__main__.py").write_text(PROGRAM.format(body=body))
    return offline.plan("dev", tmp_path)


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_component_registered_twice_under_one_name_is_refused(tmp_path, component):
    twice = "\n".join(COMPONENTS[component].format(name="twin") for _ in range(2))
    with pytest.raises(offline.DuplicateUrnError) as error:
        plan_program(tmp_path, twice)
    urn = f"{PREFIX.format(stack='dev')}mlops:components:{component}::twin"
    assert str(error.value) == f"Duplicate resource URN '{urn}'; try giving it a unique name"


def test_deploy_offline_reports_a_duplicate_urn_as_one_error(tmp_path):
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(offline.ROOT / name, tmp_path / name)
    for folder in ("components", "automation", "containers", "functions"):
        shutil.copytree(offline.ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    main = (offline.ROOT / "__main__.py").read_text()
    line = ('registry = ModelRegistry("registry", cfg, ModelRegistryArgs(alert_topic_arn=monitoring.alert_topic_arn),\n'
            '                         opts=platform_opts)\n')
    assert line in main
    (tmp_path / "__main__.py").write_text(main.replace(line, line * 2))
    result = subprocess.run([sys.executable, str(tmp_path / "automation" / "deploy.py"), "dev", "--offline"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    urn = f"{PREFIX.format(stack='dev')}mlops:components:ModelRegistry::registry"
    assert result.returncode == 3
    assert result.stderr.strip() == f"error: Duplicate resource URN '{urn}'; try giving it a unique name"


def test_every_component_can_exist_twice_under_different_names(tmp_path):
    body = "\n".join(constructor.format(name=name) for constructor in COMPONENTS.values() for name in ("first", "second"))
    plan = plan_program(tmp_path, body)
    assert len({r.urn for r in plan.resources}) == len(plan.resources)
    for component in COMPONENTS:
        first, second = (plan.get(f"mlops:components:{component}", name) for name in ("first", "second"))
        names = lambda root: sorted(r.name.removeprefix(root.name) for r in plan.descendants(root))  # noqa: E731
        assert names(first) == names(second) and names(first), component


# --- Stacks deployed before the rename keep their resources ------------------------------------

def _inherited(stack: str, child_type: str, child_name: str, parent_name: str, parent_alias: str) -> str:
    """The engine's inheritedChildAlias: a child named after its parent follows the parent's
    alias, under the parent's old type chain and with the parent's old name in front."""
    old_parent_name = parent_alias.rsplit("::", 1)[1]
    name = old_parent_name + child_name[len(parent_name):] if child_name.startswith(parent_name) else child_name
    return f"{PREFIX.format(stack=stack)}{parent_alias.split('::')[2]}${child_type}::{name}"


def adopt(plan: Plan, olds: set[str]) -> dict[str, str]:
    """Which old URN each planned resource takes over, as the engine's step generator decides
    (generateSteps, generateAliases): in registration order, the resource's own URN first, then
    its aliases, then those inherited from a parent that itself took over an old URN by alias."""
    adopted: dict[str, str] = {}  # old URN -> new URN
    by_alias: dict[str, str] = {}  # new URN -> the old URN it took over by an alias
    for resource in plan.resources:
        candidates = [resource.urn, *resource.aliases]
        if resource.parent in by_alias:
            parent = plan.by_urn(resource.parent)
            for urn in (resource.urn, *resource.aliases):
                type_, name = urn.split("::")[2].rsplit("$", 1)[-1], urn.rsplit("::", 1)[1]
                candidates.append(_inherited(plan.stack, type_, name, parent.name, by_alias[resource.parent]))
        match = next((urn for urn in candidates if urn in olds), None)
        if match is None:
            continue
        assert match not in adopted, f"{match} claimed by {adopted.get(match)} and {resource.urn}"
        adopted[match] = resource.urn
        if match != resource.urn:
            by_alias[resource.urn] = match
    return adopted


def test_a_deployed_stack_keeps_every_resource_across_the_rename(any_plan: Plan):
    olds = set((DATA / f"urns-{any_plan.stack}.txt").read_text().split())
    adopted = adopt(any_plan, olds)
    assert sorted(olds - set(adopted)) == []  # nothing the engine would delete and create anew
    renamed = {old: new for old, new in adopted.items() if old != new}
    # The rename is real (without aliases these would be replaced), and every renamed resource's
    # new name is its old one behind its component's name.
    assert renamed and olds - {r.urn for r in any_plan.resources} == set(renamed)
    assert all(new.rsplit("::", 1)[1].endswith("-" + old.rsplit("::", 1)[1]) for old, new in renamed.items())


def test_the_aliases_the_engine_receives_name_the_old_urns(plan_for):
    plan = plan_for("dev")
    assert plan.get("mlops:components:SecureBucket", "training-data").aliases == (
        "urn:pulumi:dev::mlops-platform::mlops:components:TrainingPipeline$mlops:components:SecureBucket::data",)
    assert plan.get("aws:sns/topic:Topic", "monitoring-alerts").aliases == (
        "urn:pulumi:dev::mlops-platform::mlops:components:Monitoring$aws:sns/topic:Topic::alerts",)
