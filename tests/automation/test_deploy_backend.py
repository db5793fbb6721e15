"""Backend and secrets-provider defaults: which state store and which key a stack gets, and the
message when neither can be used. Pure functions over an environment and a home folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automation.backend import Backend, SetupError, resolve_backend, resolve_secrets, secrets_provider_problem

KMS = "awskms://alias/mlops-platform-prod-secrets?region=us-east-1"
LOCAL = Backend("file:///repo/.pulumi-state", "default", {"PULUMI_BACKEND_URL": "file:///repo/.pulumi-state"})
S3 = Backend("s3://team-pulumi-state", "PULUMI_BACKEND_URL")
CLOUD = Backend(None, "PULUMI_ACCESS_TOKEN")


def login(home: Path, current: str, folder: str = ".pulumi") -> None:
    (home / folder).mkdir(parents=True)
    (home / folder / "credentials.json").write_text(json.dumps({"current": current, "accessTokens": {current: "x"}}))


def test_backend_url_wins_over_everything(tmp_path):
    login(tmp_path, "https://api.pulumi.com")
    environ = {"PULUMI_BACKEND_URL": "s3://team-state", "PULUMI_ACCESS_TOKEN": "pul-x", "CI": "true"}
    backend = resolve_backend(environ, tmp_path, tmp_path)
    assert backend == Backend("s3://team-state", "PULUMI_BACKEND_URL")
    assert backend.env == {}  # already in the environment the CLI inherits


def test_access_token_means_pulumi_cloud(tmp_path):
    login(tmp_path, "s3://old-login")
    assert resolve_backend({"PULUMI_ACCESS_TOKEN": "pul-x"}, tmp_path, tmp_path) == CLOUD


def test_an_existing_login_is_honoured(tmp_path):
    login(tmp_path, "s3://team-state")
    backend = resolve_backend({}, tmp_path, tmp_path)
    assert backend == Backend("s3://team-state", "pulumi login") and backend.self_managed


def test_pulumi_home_moves_the_login(tmp_path):
    login(tmp_path, "gs://elsewhere", folder="custom-home")
    backend = resolve_backend({"PULUMI_HOME": str(tmp_path / "custom-home")}, tmp_path, tmp_path)
    assert backend.url == "gs://elsewhere"


def test_default_is_a_local_folder_in_the_repository(tmp_path):
    (tmp_path / ".pulumi").mkdir()
    (tmp_path / ".pulumi" / "credentials.json").write_text("not json")  # unreadable login: ignored
    work_dir = tmp_path / "repo"
    backend = resolve_backend({}, tmp_path, work_dir)
    url = (work_dir / ".pulumi-state").resolve().as_uri()
    assert url.startswith("file:///") and url.endswith("/repo/.pulumi-state")
    assert backend == Backend(url, "default", {"PULUMI_BACKEND_URL": url})
    assert backend.is_default_local and backend.self_managed


def test_ci_never_gets_the_throwaway_local_default(tmp_path):
    with pytest.raises(SetupError) as error:
        resolve_backend({"CI": "true"}, tmp_path, tmp_path)
    assert str(error.value) == (
        "no Pulumi backend in CI: the default local folder would vanish with the runner and orphan the deployed "
        "resources; set PULUMI_BACKEND_URL (e.g. s3://<bucket>) or PULUMI_ACCESS_TOKEN")


@pytest.mark.parametrize("production, explicit, recorded, backend, environ, expected", [
    # An explicit provider wins, from the flag or the environment.
    (True, KMS, None, LOCAL, {}, (KMS, "--secrets-provider")),
    (True, None, None, LOCAL, {"MLOPS_SECRETS_PROVIDER": KMS}, (KMS, "MLOPS_SECRETS_PROVIDER")),
    # What the CLI recorded when the stack was created is kept (None: let the CLI use it).
    (True, None, KMS, S3, {}, (None, f"recorded in Pulumi.stack.yaml: {KMS}")),
    (False, None, "passphrase", S3, {"PULUMI_CONFIG_PASSPHRASE": "x"}, ("passphrase", "recorded in Pulumi.stack.yaml")),
    # Pulumi Cloud's own per-stack key, prod included.
    (True, None, None, CLOUD, {}, (None, "Pulumi Cloud default")),
    (False, None, None, Backend("https://api.pulumi.com", "pulumi login"), {}, (None, "Pulumi Cloud default")),
    # Self-managed backends: passphrase for non-production, with the passphrase set (even empty).
    (False, None, None, LOCAL, {"PULUMI_CONFIG_PASSPHRASE": ""}, ("passphrase", "default for non-production stacks")),
    (False, None, None, S3, {"PULUMI_CONFIG_PASSPHRASE_FILE": "/run/pass"}, ("passphrase",
                                                                             "default for non-production stacks")),
])
def test_secrets_provider_choice(production, explicit, recorded, backend, environ, expected):
    secrets = resolve_secrets("stack", production, explicit, recorded, backend, environ)
    assert (secrets.provider, secrets.source) == expected


@pytest.mark.parametrize("production, explicit, recorded, environ, message", [
    (True, None, None, {}, "stack 'prod': production stacks need an explicit secrets provider; pass "
                           "--secrets-provider awskms://alias/mlops-platform-prod-secrets?region=us-east-1 or set "
                           "MLOPS_SECRETS_PROVIDER (see docs/runbook.md, Deployment)"),
    (True, "passphrase", None, {"PULUMI_CONFIG_PASSPHRASE": "x"},
     "stack 'prod': the passphrase provider is for non-production stacks only; pass --secrets-provider"),
    (True, None, "passphrase", {"PULUMI_CONFIG_PASSPHRASE": "x"},
     "Pulumi.prod.yaml records the passphrase provider; move it to a key service with "
     "`pulumi stack change-secrets-provider --stack prod <url>`"),
    (False, None, None, {}, "stack 'prod' uses the passphrase secrets provider and PULUMI_CONFIG_PASSPHRASE is not "
                            "set: export PULUMI_CONFIG_PASSPHRASE (an empty value is accepted for throwaway stacks) "
                            "or PULUMI_CONFIG_PASSPHRASE_FILE, or pass --secrets-provider awskms://"),
    (False, None, "passphrase", {}, "uses the passphrase secrets provider and PULUMI_CONFIG_PASSPHRASE is not set"),
])
def test_unusable_secrets_setups_say_how_to_fix_them(production, explicit, recorded, environ, message):
    with pytest.raises(SetupError) as error:
        resolve_secrets("prod", production, explicit, recorded, LOCAL, environ)
    assert message in str(error.value)


@pytest.mark.parametrize("provider", ["passphrase", "default", KMS, "azurekeyvault://vault.vault.azure.net/keys/k",
                                      "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k",
                                      "hashivault://mlops-platform"])
def test_secrets_providers_pulumi_accepts_pass(provider):
    assert secrets_provider_problem(provider) is None


@pytest.mark.parametrize("provider, problem", [
    ("", "expected passphrase, default, or a key service URL"),
    ("awskms://alias/k\x00", "expected passphrase"),  # a NUL byte is a ValueError in subprocess
    ("awskms://alias/a b", "expected passphrase"),
    ("awskms://", "expected passphrase"),
    ("file:///etc/passwd", "expected passphrase"),
    ("Passphrase", "expected passphrase"),
    ("passphrase\n", "expected passphrase"),
    ("awskms://alias/\x1b[31m", "expected passphrase"),
    ("awskms://" + "k" * 1016, "longer than 1024 characters"),
])
def test_secrets_providers_that_cannot_work_are_named(provider, problem):
    assert problem in secrets_provider_problem(provider)


def test_a_bad_provider_in_the_environment_is_a_setup_error_quoted_safely():
    with pytest.raises(SetupError) as error:
        resolve_secrets("dev", False, None, None, LOCAL, {"MLOPS_SECRETS_PROVIDER": "awskms://k\x1b" + "x" * 500})
    message = str(error.value)
    assert message.startswith("MLOPS_SECRETS_PROVIDER 'awskms://k\\x1bxxx") and message.isprintable()
    assert len(message) < 300
