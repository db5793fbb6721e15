"""The offline engine and `deploy.py --offline`, run for real."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from automation import offline

DEPLOY = [sys.executable, str(offline.ROOT / "automation" / "deploy.py")]


def copy_project(tmp_path):
    """A copy of the project to break stack files in, without touching the checkout."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(offline.ROOT / name, tmp_path / name)
    for folder in ("components", "automation", "containers", "functions"):
        shutil.copytree(offline.ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_config_reaches_the_program_as_the_cli_passes_it():
    config, secrets = offline.load_stack_config("dev")
    assert config["aws:region"] == "us-east-1"
    assert config["mlops-platform:environment"] == "dev"
    assert config["mlops-platform:models"].startswith("[{")  # structured values travel as JSON
    assert secrets == []


def test_secure_values_become_marked_placeholders(tmp_path):
    project = copy_project(tmp_path)
    (project / "Pulumi.dev.yaml").write_text(
        (project / "Pulumi.dev.yaml").read_text()
        + "  mlops-platform:pullRequest:\n    secure: v1:abcdef\n")
    config, secrets = offline.load_stack_config("dev", project)
    assert config["mlops-platform:pullRequest"] == offline.SECRET_PLACEHOLDER
    assert secrets == ["mlops-platform:pullRequest"]


def test_plans_have_realistic_identifiers(plan_for):
    plan = plan_for("dev")
    (key,) = plan.of_type("aws:kms/key:Key")
    assert key.outputs["arn"] == f"arn:aws:kms:us-east-1:123456789012:key/{key.id}"
    for bucket in plan.of_type("aws:s3/bucket:Bucket"):
        assert bucket.id == bucket.outputs["bucket"] and len(bucket.id) <= 63
        assert bucket.outputs["arn"] == f"arn:aws:s3:::{bucket.id}"


def test_plans_of_different_stacks_do_not_leak_into_each_other():
    dev, prod, dev_again = offline.plan("dev"), offline.plan("prod"), offline.plan("dev")
    assert sorted(r.urn for r in dev.resources) == sorted(r.urn for r in dev_again.resources)
    assert all(":prod::" not in r.urn for r in dev_again.resources)
    assert prod.outputs["environment"] == "prod"


def test_config_overrides_change_one_value_for_a_plan():
    with pytest.raises(Exception) as error:
        offline.plan("dev", config_overrides={"environment": "staging"})
    assert "environment: got 'staging'; allowed: dev, preview, prod" in str(error.value)


def test_deploy_offline_prints_the_plan_grouped_by_component():
    result = subprocess.run([*DEPLOY, "prod", "--offline"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Plan for stack 'prod' of project 'mlops-platform'" in out
    assert "training (TrainingPipeline):" in out and "platform (PlatformKey):" in out
    assert "aws:s3:Bucket" in out and "(protect,retain)" in out
    assert "Total: " in out and "By service: " in out


@pytest.mark.parametrize("breakage, expected", [
    (("weight: 1.0", "weight: 0.5"), "weights must sum to 1, they sum to 0.5"),
    (("ml.m5.large", "ml.m5.gigantic"), "got 'ml.m5.gigantic'; allowed: a SageMaker instance type"),
    (("cron(0 3 ? * MON *)", "cron(0 3 * * MON *)"), "exactly one of day-of-month and day-of-week"),
    (("logRetentionDays: 14", "logRetentionDays: 15"), "CloudWatch Logs allows"),
    (("environment: dev", "environment: staging"), "allowed: dev, preview, prod"),
])
def test_broken_stack_file_gets_one_clear_error_and_no_traceback(tmp_path, breakage, expected):
    project = copy_project(tmp_path)
    text = (project / "Pulumi.dev.yaml").read_text()
    assert breakage[0] in text
    # Two problems at once: the parametrized one and an unknown key, both must be listed.
    (project / "Pulumi.dev.yaml").write_text(text.replace(breakage[0], breakage[1], 1)
                                             + "  mlops-platform:colour: blue\n")
    result = subprocess.run([sys.executable, str(project / "automation" / "deploy.py"), "dev", "--offline"],
                            capture_output=True, text=True, timeout=120, cwd=project)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr and "Task was destroyed" not in result.stderr
    assert "Stack 'dev' has 2 config problem(s)" in result.stderr
    assert expected in result.stderr
    assert "mlops-platform:colour: got 'blue'; unknown key" in result.stderr


def test_missing_stack_file_is_explained():
    result = subprocess.run([*DEPLOY, "staging", "--offline"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 3
    assert "no stack config Pulumi.staging.yaml" in result.stderr


@pytest.mark.parametrize("line, passed", [
    # The CLI reads a top-level value as a string first: the program gets the text as written.
    ("x: true", "true"), ("x: True", "True"), ("x: yes", "yes"), ("x: off", "off"), ("x: 1e3", "1e3"),
    ("x: 017", "017"), ("x: ~", ""), ("x: 'quoted'", "quoted"), ("x: .inf", ".inf"),
    # Lists and mappings are resolved as yaml.v3 does (YAML 1.2 core schema) and passed as JSON.
    ("x: [true, True, yes, no, on, off, y, n]", '[true, true, "yes", "no", "on", "off", "y", "n"]'),
    ("x: [1e3, 1.0, 2.5, 0o17, 017, 0x1F, 0b11, 1_000, .5, -.5, 08]", "[1000, 1, 2.5, 15, 15, 31, 3, 1000, 0.5, -0.5, 8]"),
    ("x: [~, null, '', 1:30, '2030-01-01', !!str 2030-01-01]", '[null, null, "", "1:30", "2030-01-01", "2030-01-01"]'),
    ("x: {a: 1, 'b': [c]}", '{"a": 1, "b": ["c"]}'),
])
def test_values_reach_the_program_as_the_cli_passes_them(tmp_path, line, passed):
    (tmp_path / "Pulumi.yaml").write_text("name: mlops-platform\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(f"config:\n  mlops-platform:{line}\n")
    config, _ = offline.load_stack_config("dev", tmp_path)
    assert config["mlops-platform:x"] == passed


@pytest.mark.parametrize("content, message", [
    ("config: [a]\n", "Pulumi.dev.yaml: 'config' must be a mapping of keys to values, not a list"),
    ("config:\n  a: 1\n  a: 2\n", "Pulumi.dev.yaml:3:3: duplicate key 'a' (first at line 2)"),
    ("config:\n  environment: dev\n  mlops-platform:environment: dev\n",
     "Pulumi.dev.yaml: mlops-platform:environment is set twice, as 'environment' and as 'mlops-platform:environment'"),
    ("config:\n  x: 2030-01-01\n", "Pulumi.dev.yaml:2:6: unquoted date 2030-01-01"),
])
def test_malformed_stack_files_are_project_errors(tmp_path, content, message):
    (tmp_path / "Pulumi.yaml").write_text("name: mlops-platform\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(content)
    with pytest.raises(offline.ProjectError) as error:
        offline.load_stack_config("dev", tmp_path)
    assert str(error.value).startswith(message)
