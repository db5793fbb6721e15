"""The server's settings, read once from the environment SageMaker gives the container.

SageMaker starts the image as ``docker run IMAGE serve`` with the model unpacked into
``/opt/ml/model`` and the CreateModel ``Environment`` map as environment variables. The names
are the ones aws/sagemaker-inference-toolkit reads (``parameters.py``), so the knobs people
know from SageMaker's own framework images work here too:

=================================  ======================  ======================================
variable                           default                 meaning
=================================  ======================  ======================================
``SM_MODEL_DIR``                   ``/opt/ml/model``       the folder the training image wrote
``SAGEMAKER_BIND_TO_PORT``         ``8080``                the port SageMaker sends requests to
``SAGEMAKER_MODEL_SERVER_WORKERS`` one per usable CPU      worker processes
``SAGEMAKER_MODEL_SERVER_TIMEOUT`` ``50`` (seconds)        time a request may take in the server
``SAGEMAKER_MAX_PAYLOAD_IN_MB``    ``6`` (MiB)             largest request body accepted
=================================  ======================  ======================================

The timeout defaults below SageMaker's own 60 s limit on /invocations, so a request that runs
out of time gets this server's explanation instead of being cut off by SageMaker. The body
limit defaults to InvokeEndpoint's (6 MiB, botocore's ``Body`` max 6291456); batch transform
sets ``SAGEMAKER_MAX_PAYLOAD_IN_MB`` from its ``MaxPayloadInMB``.

Every value is checked at start, and every problem is reported at once, before anything binds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from containers.contracts.features import DECIMAL_NUMBER

MODEL_DIR_ENV = "SM_MODEL_DIR"
PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
TIMEOUT_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"
MAX_PAYLOAD_ENV = "SAGEMAKER_MAX_PAYLOAD_IN_MB"

DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_SECONDS = 50.0
DEFAULT_MAX_PAYLOAD_MIB = 6
MIB = 1024 * 1024

GRACEFUL_SHUTDOWN_SECONDS = 25
"""How long SIGTERM waits for in-flight requests: SageMaker sends SIGKILL 30 s after SIGTERM."""


@dataclass(frozen=True)
class Settings:
    """Everything the server is configured with; build it with ``from_environment``."""

    model_dir: Path
    port: int = DEFAULT_PORT
    workers: int = 1
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_body_bytes: int = DEFAULT_MAX_PAYLOAD_MIB * MIB


class SettingsError(ValueError):
    """Environment values the server cannot start with; ``problems`` lists each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid server settings: " + "; ".join(problems))


def usable_cpus() -> int:
    """CPUs this process may run on (a container's cpuset, not the host's count)."""
    return len(os.sched_getaffinity(0))


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isascii() or not text.strip().isdigit() or not low <= int(text) <= high:
            raise ValueError(f"must be an integer in [{low}, {high}]")
        return int(text)

    return parse


def _seconds(text: str) -> float:
    cell = text.strip()
    if not DECIMAL_NUMBER.fullmatch(cell) or float(cell) <= 0 or float(cell) > 3600:
        raise ValueError("must be a number of seconds in (0, 3600]")
    return float(cell)


_FIELDS: tuple[tuple[str, str, Callable[[str], object]], ...] = (
    (PORT_ENV, "port", _integer(1, 65535)),
    (WORKERS_ENV, "workers", _integer(1, 256)),
    (TIMEOUT_ENV, "timeout_seconds", _seconds),
    (MAX_PAYLOAD_ENV, "max_body_bytes", lambda text: _integer(1, 1024)(text) * MIB),
)
"""Optional variables: name, Settings field, parser (raises ValueError with the allowed values)."""


def from_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (``os.environ`` by default); raises SettingsError listing every problem."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {
        "model_dir": Path(environ.get(MODEL_DIR_ENV) or DEFAULT_MODEL_DIR),
        "workers": usable_cpus(),
    }
    problems = []
    for name, field, parse in _FIELDS:
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[field] = parse(raw)
        except ValueError as exc:
            problems.append(f"{name}={raw!r} {exc}")
    if problems:
        raise SettingsError(problems)
    return Settings(**values)  # type: ignore[arg-type]
