"""Where stack state lives and how its secrets are encrypted, decided before the CLI runs.

The driver never logs in on its own: it honours what the user already chose, in this order,
1. `PULUMI_BACKEND_URL` (any backend: s3://, file://, https://api.pulumi.com, ...);
2. `PULUMI_ACCESS_TOKEN` (Pulumi Cloud: the CLI logs in with it);
3. an existing `pulumi login`: the `current` backend URL in `$PULUMI_HOME/credentials.json`
   (default `~/.pulumi/credentials.json`). Only that one field is read, never a token; reading
   the file rather than running `pulumi whoami` needs no network and cannot start an
   interactive Cloud login;
4. otherwise the local folder `<repo>/.pulumi-state/` (git-ignored), handed to the CLI as
   `PULUMI_BACKEND_URL=file://...` for this process only. No account needed; the folder is the
   state, so keep it (and back it up) as long as the stack's resources exist.
In CI (`CI=true`) step 4 is refused: the runner's folder vanishes with the job and the state
with it, orphaning whatever was deployed.

Secrets providers: an explicit `--secrets-provider` (or `MLOPS_SECRETS_PROVIDER`) wins; else
the one the CLI recorded in `Pulumi.<stack>.yaml` when the stack was created; else Pulumi Cloud's
per-stack key on Pulumi Cloud; else, for non-production stacks only, the passphrase provider,
which needs `PULUMI_CONFIG_PASSPHRASE` or `PULUMI_CONFIG_PASSPHRASE_FILE`. A production stack on
a self-managed backend must name a real key service (e.g. awskms://): a passphrase shared by
whoever deploys prod is not a key anyone can rotate or audit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SECRETS_PROVIDER_ENV = "MLOPS_SECRETS_PROVIDER"
DEFAULT_STATE_DIR = ".pulumi-state"
SELF_MANAGED_SCHEMES = ("file://", "s3://", "azblob://", "gs://")
EXAMPLE_KMS = "awskms://alias/mlops-platform-{stack}-secrets?region=us-east-1"
# The providers `pulumi stack init --secrets-provider` accepts: "default" (Pulumi Cloud's key),
# "passphrase", or a key service URL (https://www.pulumi.com/docs/iac/concepts/secrets/).
SECRETS_PROVIDER_RE = re.compile(r"default|passphrase|(awskms|azurekeyvault|gcpkms|hashivault)://[!-~]+")
MAX_SECRETS_PROVIDER = 1024


class SetupError(Exception):
    """The backend or secrets provider cannot be used as configured (exit code BACKEND)."""


@dataclass(frozen=True)
class Backend:
    """Where state lives. `url` None means "the CLI's own Pulumi Cloud login"."""

    url: str | None
    source: str  # how it was chosen, for the one-line banner
    env: Mapping[str, str] = field(default_factory=dict)  # extra environment for the CLI

    @property
    def self_managed(self) -> bool:
        return self.url is not None and self.url.startswith(SELF_MANAGED_SCHEMES)

    @property
    def is_default_local(self) -> bool:
        return self.source == "default"

    def describe(self) -> str:
        where = self.url or "Pulumi Cloud"
        return f"{where} ({self.source})"


@dataclass(frozen=True)
class Secrets:
    """The secrets provider for `pulumi stack init`; None lets the CLI use the recorded/default one."""

    provider: str | None
    source: str

    def describe(self) -> str:
        return f"{self.provider or 'Pulumi Cloud per-stack key'} ({self.source})"


def secrets_provider_problem(provider: str) -> str | None:
    """What is wrong with a secrets provider value, or None.

    Checked before the value reaches the CLI as an argument: a NUL byte there is a ValueError in
    subprocess, and a typo would otherwise be found only by `pulumi stack init`.
    """
    if len(provider) > MAX_SECRETS_PROVIDER:
        return f"longer than {MAX_SECRETS_PROVIDER} characters"
    if not SECRETS_PROVIDER_RE.fullmatch(provider):
        return ("expected passphrase, default, or a key service URL: awskms://, azurekeyvault://, gcpkms:// or "
                "hashivault:// followed by printable characters without spaces")
    return None


def pulumi_home(environ: Mapping[str, str], home: Path) -> Path:
    return Path(environ["PULUMI_HOME"]) if environ.get("PULUMI_HOME") else home / ".pulumi"


def current_login(environ: Mapping[str, str], home: Path) -> str | None:
    """The backend URL of an existing `pulumi login`, or None."""
    path = pulumi_home(environ, home) / "credentials.json"
    try:
        current = json.loads(path.read_text()).get("current")
    except (OSError, ValueError, AttributeError):
        return None
    return current if isinstance(current, str) and current else None


def resolve_backend(environ: Mapping[str, str], home: Path, work_dir: Path) -> Backend:
    """Pick the backend (see the module docstring for the order and why)."""
    if environ.get("PULUMI_BACKEND_URL"):
        return Backend(environ["PULUMI_BACKEND_URL"], "PULUMI_BACKEND_URL")
    if environ.get("PULUMI_ACCESS_TOKEN"):
        return Backend(None, "PULUMI_ACCESS_TOKEN")
    login = current_login(environ, home)
    if login:
        return Backend(login, "pulumi login")
    if environ.get("CI", "").lower() == "true":
        raise SetupError("no Pulumi backend in CI: the default local folder would vanish with the runner and orphan "
                         "the deployed resources; set PULUMI_BACKEND_URL (e.g. s3://<bucket>) or PULUMI_ACCESS_TOKEN")
    state_dir = work_dir / DEFAULT_STATE_DIR
    url = state_dir.resolve().as_uri()  # file:///abs/path
    return Backend(url, "default", {"PULUMI_BACKEND_URL": url})


def resolve_secrets(stack: str, production: bool, explicit: str | None, recorded: str | None,
                    backend: Backend, environ: Mapping[str, str]) -> Secrets:
    """Pick the secrets provider, or raise SetupError saying how to set one.

    `explicit` is the --secrets-provider flag; `recorded` what Pulumi.<stack>.yaml already says
    (`stacks.recorded_secrets_provider`). A provider only takes effect when the stack is created:
    an existing stack keeps its own until `pulumi stack change-secrets-provider`.
    """
    source = "--secrets-provider"
    if not explicit and environ.get(SECRETS_PROVIDER_ENV):
        explicit, source = environ[SECRETS_PROVIDER_ENV], SECRETS_PROVIDER_ENV
    problem = secrets_provider_problem(explicit) if explicit else None
    if problem:
        raise SetupError(f"{source} {explicit[:80]!r}: {problem}")
    if explicit:
        if production and explicit == "passphrase":
            raise SetupError(_production_hint(stack, "the passphrase provider is for non-production stacks only"))
        if explicit == "passphrase":
            _require_passphrase(stack, environ)
        return Secrets(explicit, source)
    if recorded and recorded != "passphrase":
        return Secrets(None, f"recorded in Pulumi.{stack}.yaml: {recorded}")
    if recorded == "passphrase":
        if production:
            raise SetupError(_production_hint(stack, f"Pulumi.{stack}.yaml records the passphrase provider; move it "
                                                     f"to a key service with `pulumi stack change-secrets-provider "
                                                     f"--stack {stack} <url>`"))
        _require_passphrase(stack, environ)
        return Secrets("passphrase", f"recorded in Pulumi.{stack}.yaml")
    if not backend.self_managed:
        return Secrets(None, "Pulumi Cloud default")
    if production:
        raise SetupError(_production_hint(stack, "production stacks need an explicit secrets provider"))
    _require_passphrase(stack, environ)
    return Secrets("passphrase", "default for non-production stacks")


def _require_passphrase(stack: str, environ: Mapping[str, str]) -> None:
    if "PULUMI_CONFIG_PASSPHRASE" in environ or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        return
    raise SetupError(f"stack '{stack}' uses the passphrase secrets provider and PULUMI_CONFIG_PASSPHRASE is not set: "
                     "export PULUMI_CONFIG_PASSPHRASE (an empty value is accepted for throwaway stacks) or "
                     f"PULUMI_CONFIG_PASSPHRASE_FILE, or pass --secrets-provider {EXAMPLE_KMS.format(stack=stack)}")


def _production_hint(stack: str, why: str) -> str:
    return (f"stack '{stack}': {why}; pass --secrets-provider {EXAMPLE_KMS.format(stack=stack)} "
            f"or set {SECRETS_PROVIDER_ENV} (see docs/runbook.md, Deployment)")
