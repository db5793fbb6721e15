"""Every malformed stack file is one clear error (exit 3): never a traceback, a hang, a blown
memory limit or a value silently read differently from the way the Pulumi CLI reads it.

Each case is a stack file (or Pulumi.yaml) broken in one way, run through `deploy.py <stack>
--offline`: in-process through `deploy.main` (fast), and the cases that could exhaust memory,
recurse or hang as real subprocesses under an address-space limit and a timeout.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from automation import deploy, stackfile, stacks

ROOT = Path(__file__).resolve().parents[2]
DEV = (ROOT / "Pulumi.dev.yaml").read_text()
PROD = (ROOT / "Pulumi.prod.yaml").read_text()
MEMORY_LIMIT = 1536 * 2**20  # 1.5 GB of address space: a full offline plan of dev fits in it
Writer = Callable[[Path], None]


def replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, old
    return text.replace(old, new, 1)


def stack_file(stack: str, content: str | bytes) -> Writer:
    def write(work_dir: Path) -> None:
        path = work_dir / f"Pulumi.{stack}.yaml"
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return write


def dev(old: str, new: str) -> Writer:
    return stack_file("dev", replaced(DEV, old, new))


def dev_appended(lines: str) -> Writer:
    return stack_file("dev", DEV + lines)


def project_file(text: str, stack_text: str = DEV) -> Writer:
    def write(work_dir: Path) -> None:
        (work_dir / "Pulumi.yaml").write_text(text)
        (work_dir / "Pulumi.dev.yaml").write_text(stack_text)
    return write


def pr_file(old: str, new: str) -> Writer:
    text = stacks.render_pr_config(stacks.parse_stack_name("pr-7"), stacks.today_utc())
    return stack_file("pr-7", replaced(text, old, new))


def directory(work_dir: Path) -> None:
    (work_dir / "Pulumi.dev.yaml").mkdir()


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    index = -1
    for _ in range(occurrence):
        index = text.index(fragment, index + 1)
    return text.count("\n", 0, index) + 1


DUPLICATE_THRESHOLD = replaced(DEV, "      threshold: 0.8\n", "      threshold: 0.8\n      threshold: 0.9\n")
DUPLICATE_CONFIG_KEY = DEV + "  mlops-platform:models: []\n"
HUNDRED_AND_ONE = "".join(f"        sagemaker_h{i}: \"1\"\n" for i in range(101))
BARE_KEYS = DEV.replace("mlops-platform:", "")
NS = "mlops-platform"

CASES = [
    # -- the document's shape
    pytest.param("dev", stack_file("dev", "- a\n- b\n"),
                 ["Pulumi.dev.yaml:1:1: the file must be a mapping of `key: value` lines, not a list"], id="list-document"),
    pytest.param("dev", stack_file("dev", "just some text\n"),
                 ["Pulumi.dev.yaml:1:1: the file must be a mapping of `key: value` lines, not text ('just some text')"],
                 id="text-document"),
    pytest.param("dev", stack_file("dev", "config: [a, b]\n"),
                 ["Pulumi.dev.yaml: 'config' must be a mapping of keys to values, not a list"], id="config-not-a-mapping"),
    pytest.param("dev", stack_file("dev", DEV + "---\nconfig: {}\n"),
                 ["not valid YAML: expected a single document in the stream, but found another document"],
                 id="two-documents"),
    pytest.param("dev", dev("  mlops-platform:models:\n", "  mlops-platform:models: [\n"),
                 ["Pulumi.dev.yaml:", "not valid YAML: "], id="syntax-error"),
    pytest.param("dev", directory, ["Pulumi.dev.yaml: ", "Pulumi.dev.yaml is a directory, not a file"], id="directory"),
    pytest.param("dev", stack_file("dev", DEV + "#" * stackfile.MAX_BYTES),
                 ["Pulumi.dev.yaml: larger than 1024 KiB; a stack file is a few kilobytes"], id="too-large"),
    # -- bytes that are not UTF-8 text
    pytest.param("dev", stack_file("dev", replaced(DEV, "ml.m5.large", "ml.m5.large\xe9").encode("latin-1")),
                 [f"Pulumi.dev.yaml:{line_of(DEV, 'ml.m5.large')}:", "not UTF-8 text (byte 0xe9); save the file as UTF-8"],
                 id="latin-1"),
    pytest.param("dev", stack_file("dev", DEV.encode("utf-16")),
                 ["Pulumi.dev.yaml:1:1: not UTF-8 text (byte 0xff)"], id="utf-16"),
    pytest.param("dev", dev("ml.m5.large", "ml.m5\x00large"),
                 [f"Pulumi.dev.yaml:{line_of(DEV, 'ml.m5.large')}:", "contains the character U+0000"], id="nul-byte"),
    # -- tags and keys
    pytest.param("dev", dev_appended("  mlops-platform:x: !!python/object/apply:os.system ['echo pwned']\n"),
                 ["the tag !!python/object/apply:os.system is not allowed: stack files hold plain values"], id="python-tag"),
    pytest.param("dev", dev_appended("  mlops-platform:x: !!binary aGVsbG8=\n"), ["the tag !!binary is not allowed"],
                 id="binary-tag"),
    pytest.param("dev", dev_appended("  mlops-platform:x: !!set {a, b}\n"), ["the tag !!set is not allowed"], id="set-tag"),
    pytest.param("dev", dev_appended("  mlops-platform:x: !!timestamp 2030-01-01\n"), ["the tag !!timestamp is not allowed"],
                 id="timestamp-tag"),
    pytest.param("dev", dev_appended("  mlops-platform:x: !vault secret/path\n"), ["the tag !vault is not allowed"],
                 id="custom-tag"),
    pytest.param("dev", dev_appended("  mlops-platform:x: !!int twelve\n"), ["'twelve' cannot be read as !!int"],
                 id="core-tag-wrong-type"),
    pytest.param("dev", dev_appended("  12: x\n"),
                 [f"Pulumi.dev.yaml:{DEV.count(chr(10)) + 1}:3: keys must be strings, not a number (12); quote the key"],
                 id="number-key"),
    pytest.param("dev", dev_appended("  true: x\n"), ["keys must be strings, not the boolean true; quote the key"],
                 id="boolean-key"),
    pytest.param("dev", dev_appended("  ~: x\n"), ["keys must be strings, not null"], id="null-key"),
    pytest.param("dev", dev_appended("  ? [a, b]\n  : x\n"), ["keys must be strings, not a list"], id="list-key"),
    pytest.param("dev", dev("        max_depth: \"5\"\n", "        max_depth: \"5\"\n        5: \"6\"\n"),
                 ["keys must be strings, not a number (5)"], id="number-key-nested"),
    # -- values the Pulumi CLI reads differently from PyYAML
    pytest.param("dev", dev_appended("  mlops-platform:expires: 2030-03-06\n"),
                 ["unquoted date 2030-03-06: YAML reads it as a timestamp, not as text (inside a list or mapping the "
                  "Pulumi CLI passes it on as an RFC 3339 time); quote it ('2030-03-06')"],
                 id="unquoted-date"),
    pytest.param("dev", dev("        eta: \"0.1\"\n", "        eta: 2030-03-06T10:00:00Z\n"),
                 [f"Pulumi.dev.yaml:{line_of(DEV, 'eta:')}:14: unquoted date 2030-03-06T10:00:00Z"], id="unquoted-timestamp"),
    pytest.param("dev", dev("        num_round: \"200\"\n", "        num_round: yes\n"),
                 [f"{NS}:models[0].hyperparameters: num_round: 'yes' is not an integer in [1, 5000]"], id="yes-is-a-string"),
    # -- duplicate keys, merges, aliases
    pytest.param("dev", stack_file("dev", DUPLICATE_THRESHOLD),
                 [f"Pulumi.dev.yaml:{line_of(DUPLICATE_THRESHOLD, 'threshold:', 2)}:7: duplicate key 'threshold' "
                  f"(first at line {line_of(DUPLICATE_THRESHOLD, 'threshold:')})"], id="duplicate-model-field"),
    pytest.param("dev", stack_file("dev", DUPLICATE_CONFIG_KEY),
                 [f"Pulumi.dev.yaml:{line_of(DUPLICATE_CONFIG_KEY, 'mlops-platform:models:', 2)}:3: duplicate key "
                  f"'mlops-platform:models' (first at line {line_of(DEV, 'mlops-platform:models:')})"], id="duplicate-config-key"),
    pytest.param("dev", stack_file("dev", DEV + "config: {}\n"), ["duplicate key 'config' (first at line 3)"],
                 id="duplicate-top-level-key"),
    pytest.param("dev", dev_appended("  threshold: 0.5\n"),
                 [f"{NS}:threshold: got 0.5; unknown key"], id="bare-unknown-key"),
    pytest.param("dev", dev_appended("  environment: dev\n"),
                 [f"Pulumi.dev.yaml: {NS}:environment is set twice, as 'environment' and as '{NS}:environment'; keep one"],
                 id="bare-and-namespaced-key"),
    pytest.param("dev", dev_appended("  base: &base {a: 1}\n  mlops-platform:x:\n    <<: *base\n"),
                 ["merge keys (<<) are not supported in stack files; write the keys out"], id="merge-key"),
    pytest.param("dev", dev_appended("  mlops-platform:x: *nowhere\n"), ["not valid YAML: found undefined alias 'nowhere'"],
                 id="undefined-alias"),
    # -- a key under a misspelt namespace
    pytest.param("dev", dev("mlops-platform:models:", "mlops-platfrom:models:"),
                 ["mlops-platfrom:models: unknown namespace 'mlops-platfrom'; did you mean 'mlops-platform:models'?",
                  f"{NS}:models: got (missing); required"], id="misspelt-namespace"),
    pytest.param("dev", dev("aws:region", "aws:regoin"),
                 ["aws:regoin: not a setting of the AWS provider; did you mean 'aws:region'?",
                  "aws:region: got (missing); required"], id="misspelt-aws-key"),
    pytest.param("dev", dev("aws:region", "amazon:region"), ["amazon:region: unknown namespace 'amazon'"],
                 id="unknown-namespace"),
    # -- Pulumi.yaml is read as strictly
    pytest.param("dev", project_file("- name: mlops-platform\n"),
                 ["Pulumi.yaml:1:1: the file must be a mapping of `key: value` lines, not a list"], id="project-list"),
    pytest.param("dev", project_file("name: mlops-platform\nname: other\nruntime: python\n"),
                 ["Pulumi.yaml:2:1: duplicate key 'name' (first at line 1)"], id="project-duplicate-key"),
    pytest.param("dev", project_file("runtime: python\n"), ["Pulumi.yaml: 'name' must be the project's name (text)"],
                 id="project-without-name"),
    # -- the stack decides what is production; pull-request keys only on pr-N
    pytest.param("prod", stack_file("prod", replaced(PROD, "environment: prod", "environment: dev")),
                 [f"{NS}:environment: got 'dev'; stack 'prod' is production (PRODUCTION_STACKS in "
                  "components/environments.py) and always gets the prod rules"], id="prod-declares-dev"),
    pytest.param("dev", dev("environment: dev", "environment: prod"),
                 [f"{NS}:environment: got 'prod'; the stack's name decides what is production, and 'dev' is not: to make "
                  "it production, add 'dev' to PRODUCTION_STACKS in components/environments.py"], id="dev-declares-prod"),
    pytest.param("dev", dev_appended(f"  {NS}:pullRequest: '12'\n  {NS}:expires: '2030-01-01'\n"),
                 [f"{NS}:pullRequest: got 12; only pull-request stacks (pr-<number>) carry it, and 'dev' is not one",
                  f"{NS}:expires: got '2030-01-01'; only pull-request stacks"], id="pr-keys-on-dev"),
    pytest.param("pr-7", pr_file(f"  {NS}:pullRequest: '7'\n", ""),
                 [f"{NS}:pullRequest: got (missing); required: '7', the pull request of stack 'pr-7'"], id="pr-missing-number"),
    pytest.param("pr-7", pr_file(f"{NS}:pullRequest: '7'", f"{NS}:pullRequest: '8'"),
                 [f"{NS}:pullRequest: got 8; stack 'pr-7' belongs to pull request 7: use '7'"], id="pr-wrong-number"),
    pytest.param("pr-7", pr_file(f"{NS}:expires: '", f"{NS}:expires: 'soon"),
                 [f"{NS}:expires: got 'soon", "expected an ISO date, YYYY-MM-DD"], id="pr-expiry-not-a-date"),
    # -- values that pass the type check but could never work: thresholds per metric direction
    *(pytest.param("dev", dev("      objectiveMetric: validation:auc\n      threshold: 0.8\n",
                              f"      objectiveMetric: {metric}\n      threshold: {value}\n"),
                   [f"{NS}:models[0].threshold: got {shown}; {why}"], id=f"threshold-{metric}-{value}")
      for metric, value, shown, why in [
          ("validation:auc", "1.2", "1.2", "validation:auc lies in [0, 1]; a version is registered when "
                                           "validation:auc >= threshold"),
          ("validation:auc", "-0.1", "-0.1", "validation:auc lies in [0, 1]"),
          ("validation:auc", ".inf", "inf", "expected a finite number"),
          ("validation:auc", ".nan", "nan", "expected a finite number"),
          ("validation:logloss", "-1", "-1", "validation:logloss lies in [0, inf]; a version is registered when "
                                             "validation:logloss <= threshold"),
          ("validation:logloss", ".inf", "inf", "expected a finite number"),
      ]),
    # -- hyperparameters the training container would reject
    pytest.param("dev", dev("max_depth:", "max_dept:"),
                 [f"{NS}:models[0].hyperparameters: 'max_dept' is not a known hyperparameter (known: alpha, "],
                 id="hyperparameter-unknown"),
    pytest.param("dev", dev("eta: \"0.1\"", "eta: \"fast\""),
                 [f"{NS}:models[0].hyperparameters: eta: 'fast' is not a number in (0, 1]"], id="hyperparameter-bad-value"),
    pytest.param("dev", dev("max_depth: \"5\"", "max_depth: \"50\""),
                 [f"{NS}:models[0].hyperparameters: max_depth: '50' is out of range; must be an integer in [1, 20]"],
                 id="hyperparameter-out-of-range"),
    pytest.param("dev", dev("        early_stopping_rounds: \"20\"\n", "        early_stopping_rounds: \"20\"\n" + HUNDRED_AND_ONE),
                 [f"{NS}:models[0].hyperparameters: 106 hyperparameters; SageMaker accepts at most 100"],
                 id="hyperparameters-over-100"),
    # -- schedule names that are no month or weekday
    pytest.param("dev", dev("cron(0 3 ? * MON *)", "cron(0 3 ? FOO MON *)"),
                 [f"{NS}:models[0].retrainSchedule: got 'cron(0 3 ? FOO MON *)'; cron month field 'FOO' is not valid: "
                  "'FOO' is not a month (1-12 or JAN-DEC)"], id="cron-month-FOO"),
    pytest.param("dev", dev("cron(0 3 ? * MON *)", "cron(0 3 ? * XYZ *)"),
                 ["cron day-of-week field 'XYZ' is not valid: 'XYZ' is not a day of the week (1-7 or SUN-SAT)"],
                 id="cron-weekday-XYZ"),
    # -- tag values over AWS's limits (the project name and the stack name become tags)
    pytest.param("dev", project_file("name: mlops;platform\nruntime: python\n", BARE_KEYS),
                 ["project name (Pulumi.yaml): got 'mlops;platform'; becomes the Project tag: AWS tag values allow "
                  "letters, digits, spaces and _ . : / = + - @, not ';'"], id="tag-bad-character"),
    pytest.param("dev", project_file(f"name: {'p' * 300}\nruntime: python\n", BARE_KEYS),
                 ["becomes the Project tag: 300 characters; AWS tag values hold at most 256"], id="tag-too-long"),
]


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """Pulumi.yaml and the program's entry point; each case adds the stack file it breaks."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def run_offline(work_dir: Path, stack: str, capsys, monkeypatch) -> tuple[int, str, str]:
    """`deploy.py <stack> --offline` in this process, planning in `work_dir`."""
    monkeypatch.setattr(deploy, "run_offline", functools.partial(deploy.run_offline, work_dir=work_dir))
    code = deploy.main([stack, "--offline"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_clear_error(code: int, err: str, expected: list[str]) -> None:
    assert code == 3, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[0].startswith("error: ") and sum(line.startswith("error:") for line in lines) == 1, err
    assert all(line.startswith("  - ") for line in lines[1:]), err
    for fragment in expected:
        assert fragment in err, err


@pytest.mark.parametrize("stack, write, expected", CASES)
def test_a_malformed_stack_file_is_one_clear_error(work_dir, capsys, monkeypatch, stack, write, expected):
    write(work_dir)
    started = time.monotonic()
    code, out, err = run_offline(work_dir, stack, capsys, monkeypatch)
    assert time.monotonic() - started < 20
    assert_one_clear_error(code, err, expected)
    assert out == ""


@pytest.mark.parametrize("schedule", ["cron(0 8 ? * MON-FRI *)", "cron(0 8 ? JAN-MAR MON *)", "cron(0 8 ? * 2#3 *)",
                                      "cron(0 8 L * ? *)"])
def test_documented_cron_forms_plan(work_dir, capsys, monkeypatch, schedule):
    dev("cron(0 3 ? * MON *)", schedule)(work_dir)
    code, out, err = run_offline(work_dir, "dev", capsys, monkeypatch)
    assert code == 0, err
    assert "Plan for stack 'dev'" in out


def test_yes_no_on_off_reach_the_program_as_text(work_dir, capsys, monkeypatch):
    """yaml.v3 (the CLI) reads `on` as the string "on"; PyYAML's safe_load would say True."""
    dev("emails: []", "emails: [on]")(work_dir)
    code, _, err = run_offline(work_dir, "dev", capsys, monkeypatch)
    assert_one_clear_error(code, err, [f"{NS}:alerting.emails[0]: got 'on'; expected an email address"])


# -- as real processes, with an address-space limit and a timeout ---------------------------------
LAUGHS = "config:\n  lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"  lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 9))
DEEP_BLOCK = "config:\n" + "".join(" " * (i + 2) + f"k{i}:\n" for i in range(1000)) + " " * 1002 + "end\n"


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """A copy of the project (program, automation, contracts) for deploy.py to run from."""
    copy = tmp_path_factory.mktemp("project")
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"):
        shutil.copy(ROOT / name, copy / name)
    for folder in ("components", "automation", "containers", "functions"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def mkfifo(path: Path) -> None:
    os.mkfifo(path)


def hostile(stack: str, make: str | Callable[[Path], None], expected: list[str]):
    return pytest.param(stack, make, expected, id=stack)


@pytest.mark.parametrize("stack, make, expected", [
    hostile("laughs", LAUGHS, ["Pulumi.laughs.yaml:", "more than 10000 values once aliases (*name) are expanded"]),
    hostile("recursive", "config:\n  mlops-platform:models: &m\n    - *m\n",
            ["Pulumi.recursive.yaml:2:26: an alias (*name) refers to a value that contains it"]),
    hostile("recursive-map", "config: &c\n  again: *c\n",
            ["Pulumi.recursive-map.yaml:1:9: an alias (*name) refers to a value that contains it"]),
    hostile("deep-flow", "config:\n  x: " + "[" * 200_000 + "]" * 200_000 + "\n",
            ["Pulumi.deep-flow.yaml:2:", "nested deeper than 32 levels"]),
    hostile("deep-block", DEEP_BLOCK, ["Pulumi.deep-block.yaml:", "nested deeper than 32 levels"]),
    hostile("fifo", mkfifo, ["Pulumi.fifo.yaml: ", "Pulumi.fifo.yaml is not a regular file"]),
    hostile("tagged", "config:\n  x: !!python/object/apply:os.system ['echo pwned']\n",
            ["the tag !!python/object/apply:os.system"]),
])
def test_hostile_stack_files_fail_fast_in_bounded_memory(project_copy, stack, make, expected):
    path = project_copy / f"Pulumi.{stack}.yaml"
    make(path) if callable(make) else path.write_text(make)
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(project_copy / "automation" / "deploy.py"), stack, "--offline"],
                            capture_output=True, text=True, timeout=60, cwd=project_copy, preexec_fn=_limit_memory)
    assert time.monotonic() - started < 30
    assert_one_clear_error(result.returncode, result.stderr, expected)
    assert "pwned" not in result.stdout + result.stderr


def test_the_laughs_file_is_small_and_would_expand_to_a_billion_values():
    """The case above is the classic attack: under a kilobyte, 10**9 values once expanded."""
    assert len(LAUGHS.encode()) < 1024
    node = stackfile.compose(LAUGHS, "laughs")
    expanded: dict[int, int] = {}

    def count(node: yaml.Node) -> int:  # values with aliases expanded, computed on the shared graph
        if id(node) not in expanded:
            children = {yaml.MappingNode: lambda: [n for pair in node.value for n in pair],
                        yaml.SequenceNode: lambda: node.value}.get(type(node), list)()
            expanded[id(node)] = 1 + sum(count(child) for child in children)
        return expanded[id(node)]

    assert count(node) > 10**9
