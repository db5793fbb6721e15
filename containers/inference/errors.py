"""Errors that carry their HTTP status, so a client's mistake can never surface as a 500.

The shape of aws/sagemaker-inference-toolkit's ``errors.py``: every step (decode, predict,
encode) raises one of these with a one-line message that says what is wrong; the server app
turns it into that status and message. Anything else that escapes a step is a bug in this
container, answered with a 500 (the worker stays up).
"""

from __future__ import annotations


class InferenceError(Exception):
    """A request the server answers with ``status`` and a one-line ``message``."""

    status = 500
    max_length = 500  # a message quotes client input; keep it one short line whatever was sent

    def __init__(self, message: str):
        line = " ".join(message.split())
        self.message = line if len(line) <= self.max_length else line[: self.max_length - 3] + "..."
        super().__init__(self.message)


class BadRequestError(InferenceError):
    """Malformed body, wrong column count, a value that is not a number, an empty body."""

    status = 400


class NotAcceptableError(InferenceError):
    """The Accept header names no type this server can answer in."""

    status = 406


class RequestTimeoutError(InferenceError):
    """The body did not arrive within the request timeout."""

    status = 408


class PayloadTooLargeError(InferenceError):
    """The body is over the size limit, or its rows cannot be scored within the request timeout."""

    status = 413


class UnsupportedMediaTypeError(InferenceError):
    """The Content-Type is not one this server decodes."""

    status = 415


class ModelNotReadyError(InferenceError):
    """The model is still loading, or failed to load (the reason says which)."""

    status = 503

