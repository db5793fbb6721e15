"""The server's settings from SageMaker's environment variables (``containers/inference/environment.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from containers.inference import environment
from containers.inference.environment import Settings, SettingsError


def test_defaults_are_sagemakers() -> None:
    settings = environment.from_environment({})
    assert settings == Settings(
        model_dir=Path("/opt/ml/model"),
        port=8080,
        workers=environment.usable_cpus(),
        timeout_seconds=50.0,
        max_body_bytes=6 * 1024 * 1024,
    )
    assert settings.max_body_bytes == 6291456  # botocore: InvokeEndpoint Body max length
    assert settings.timeout_seconds < 60  # SageMaker's own limit on /invocations


def test_every_variable_is_read() -> None:
    settings = environment.from_environment(
        {
            "SM_MODEL_DIR": "/models/churn",
            "SAGEMAKER_BIND_TO_PORT": "9090",
            "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "12.5",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20",
        }
    )
    assert settings == Settings(Path("/models/churn"), 9090, 3, 12.5, 20 * 1024 * 1024)


def test_empty_values_mean_the_default() -> None:
    assert environment.from_environment({"SAGEMAKER_BIND_TO_PORT": "", "SM_MODEL_DIR": ""}).port == 8080


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("SAGEMAKER_BIND_TO_PORT", "http", "SAGEMAKER_BIND_TO_PORT='http' must be an integer in [1, 65535]"),
        ("SAGEMAKER_BIND_TO_PORT", "0", "must be an integer in [1, 65535]"),
        ("SAGEMAKER_BIND_TO_PORT", "70000", "must be an integer in [1, 65535]"),
        ("SAGEMAKER_BIND_TO_PORT", "-1", "must be an integer"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "0", "SAGEMAKER_MODEL_SERVER_WORKERS='0' must be an integer in [1, 256]"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "2.5", "must be an integer in [1, 256]"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "\u0662", "must be an integer"),
        ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "0", "SAGEMAKER_MODEL_SERVER_TIMEOUT='0' must be a number of seconds in (0, 3600]"),
        ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "soon", "must be a number of seconds"),
        ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "nan", "must be a number of seconds"),
        ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "7200", "must be a number of seconds in (0, 3600]"),
        ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "0", "SAGEMAKER_MAX_PAYLOAD_IN_MB='0' must be an integer in [1, 1024]"),
    ],
)
def test_bad_values_are_refused_with_the_allowed_range(name: str, value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        environment.from_environment({name: value})
    assert caught.value.problems == [caught.value.problems[0]] and problem in caught.value.problems[0]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        environment.from_environment(
            {"SAGEMAKER_BIND_TO_PORT": "x", "SAGEMAKER_MODEL_SERVER_WORKERS": "y", "SAGEMAKER_MODEL_SERVER_TIMEOUT": "z"}
        )
    assert [p.split("=")[0] for p in caught.value.problems] == [
        "SAGEMAKER_BIND_TO_PORT",
        "SAGEMAKER_MODEL_SERVER_WORKERS",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT",
    ]
