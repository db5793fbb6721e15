"""How a training job can fail, one class per exit code, shared by the trainer's modules.

``train.execute`` turns each into its exit code and the paragraph in ``output/failure`` that
SageMaker shows as FailureReason; the classes live apart so ``distributed.py`` and
``baseline_statistics.py`` can raise them without importing the trainer.
"""

from __future__ import annotations


class TrainingInputError(Exception):
    """The job's input is wrong (hyperparameters, channels, data): exit 1, user fixes it."""


class EmptyChannelError(TrainingInputError):
    """A channel has no data rows on this host: missing, no CSV files, or header-only files.

    Told apart from other bad input because on a multi-host job it usually means the host's
    shard is empty (fewer S3 objects than hosts), which deserves its own explanation.
    """

    def __init__(self, channel: str, message: str):
        super().__init__(message)
        self.channel = channel


class StoppedBeforeTrainingError(Exception):
    """SIGTERM arrived before there was any model to save."""


class HostsError(Exception):
    """The hosts of a multi-host job could not train together: a host could not reach the
    tracker, the group did not form, or a host was lost during training (exit 3)."""
