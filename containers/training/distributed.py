"""Several SageMaker training hosts training one model together, through XGBoost's own collective.

SageMaker starts the same container on every instance of a training job and describes the
hosts in ``/opt/ml/input/config/resourceconfig.json`` (``current_host``, ``hosts``). With more
than one host, the trainer joins XGBoost's collective (``xgboost.collective``, the Rabit
protocol) instead of inventing a scheduler:

- the leader is the first host by name (``sorted(hosts)[0]``, the choice SageMaker's own XGBoost
  container makes); it runs ``xgboost.tracker.RabitTracker`` on a fixed port
  (``DEFAULT_TRACKER_PORT``, 9099, also that container's), since every host must know where the
  tracker is without being told;
- every host, the leader included, is a worker on its own shard of the train channel
  (``ShardedByS3Key``) and registers with its host name as task id; the tracker ranks workers by
  task id (``sortby="task"``), so ranks follow the sorted host names and the leader is rank 0;
- ``xgb.train`` inside the communicator builds each tree from every host's histograms, so all
  hosts hold the same model; the trainer's own statistics (row counts, the drift baseline, the
  stop decision) go through ``Group``'s allreduce.

Bounded waits, so no host hangs forever (``Settings.timeout_seconds``, 600 s unless
``TRAINING_HOST_TIMEOUT_SECONDS`` says otherwise): resolving the leader's name and reaching the
tracker (SageMaker's docs warn that host names may resolve late), forming the group (the
tracker's ``timeout`` and the worker's ``dmlc_timeout``), and every collective operation
(``dmlc_timeout``: a host that stops answering fails the others after that long; one that dies
fails them at once, its sockets close). Each failure is a ``HostsError`` naming the host and
XGBoost's reason.

Why ``end_process``: after a failed collective operation XGBoost's communicator can no longer
shut down, and with xgboost 3.2.0 the interpreter's own teardown then crashes (a segfault in the
tracker's destructor, seen here), which would replace the trainer's exit code; a process that
joined a group therefore ends with ``os._exit`` after its failure reason is written and its
streams are flushed.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from xgboost import collective
from xgboost.core import XGBoostError
from xgboost.tracker import RabitTracker

from containers.training.errors import EmptyChannelError, HostsError, TrainingInputError

DEFAULT_TRACKER_PORT = 9099
DEFAULT_TIMEOUT_SECONDS = 600
TIMEOUT_ENV = "TRAINING_HOST_TIMEOUT_SECONDS"
TRACKER_PORT_ENV = "TRAINING_TRACKER_PORT"
TRACKER_ADDRESS_ENV = "TRAINING_TRACKER_ADDRESS"
PROBE_INTERVAL_SECONDS = 0.5

Log = Callable[[str], None]


# --------------------------------------------------------------------------- the hosts


@dataclass(frozen=True)
class Hosts:
    """This job's hosts, sorted by name, and which one this process is."""

    current: str
    names: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.names)

    @property
    def leader(self) -> str:
        return self.names[0]

    @property
    def is_leader(self) -> bool:
        return self.current == self.leader

    @property
    def rank(self) -> int:
        return self.names.index(self.current)


SINGLE_HOST = Hosts("algo-1", ("algo-1",))
"""What a run without ``resourceconfig.json`` is (a laptop, the tests): one host."""


def read_hosts(path: Path) -> Hosts:
    """The hosts ``resourceconfig.json`` names; one host when the file is absent."""
    if not path.exists():
        return SINGLE_HOST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HostsError(f"{path} is not valid JSON: {exc}") from None
    current = document.get("current_host") if isinstance(document, dict) else None
    names = document.get("hosts") if isinstance(document, dict) else None
    valid = (isinstance(current, str) and isinstance(names, list) and all(isinstance(n, str) and n for n in names)
             and len(set(names)) == len(names) and current in names)
    if not valid:
        raise HostsError(f"{path} must name this host (current_host) among a list of distinct host names (hosts); "
                         f"got current_host={current!r}, hosts={names!r}")
    return Hosts(current, tuple(sorted(names)))


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """Where the tracker listens and how long any wait on another host may last."""

    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    tracker_port: int = DEFAULT_TRACKER_PORT
    tracker_address: str | None = None  # None: the leader's name, resolved; local runs give 127.0.0.1

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Read the overrides (CreateTrainingJob's ``Environment`` or a local run's); a bad one is bad input."""
        numbers = {}
        for variable, low, high, default in ((TIMEOUT_ENV, 1, 86400, DEFAULT_TIMEOUT_SECONDS),
                                             (TRACKER_PORT_ENV, 1, 65535, DEFAULT_TRACKER_PORT)):
            text = environ.get(variable, "").strip()
            if not text:
                numbers[variable] = default
            elif text.isascii() and text.isdigit() and low <= int(text) <= high:
                numbers[variable] = int(text)
            else:
                raise TrainingInputError(f"environment variable {variable}={text!r} must be a whole number in [{low}, {high}]")
        address = environ.get(TRACKER_ADDRESS_ENV, "").strip() or None
        return cls(numbers[TIMEOUT_ENV], numbers[TRACKER_PORT_ENV], address)


# --------------------------------------------------------------------------- the group


class Group:
    """The hosts training together. Every host must make the same calls in the same order with
    arrays of the same shape (XGBoost's allreduce pairs them up by order); on one host every
    reduction is the identity, so single-host training runs the same code."""

    def __init__(self, hosts: Hosts):
        self.hosts = hosts

    def _reduce(self, values: np.ndarray, op: collective.Op) -> np.ndarray:
        array = np.ascontiguousarray(values)
        if self.hosts.count == 1:
            return array.copy()
        return collective.allreduce(array, op).reshape(array.shape)

    def sum(self, values: np.ndarray) -> np.ndarray:
        return self._reduce(values, collective.Op.SUM)

    def minimum(self, values: np.ndarray) -> np.ndarray:
        return self._reduce(values, collective.Op.MIN)

    def maximum(self, values: np.ndarray) -> np.ndarray:
        return self._reduce(values, collective.Op.MAX)

    def any(self, flag: bool) -> bool:
        """True on every host when it is true on one (the stop decision must be the same everywhere)."""
        return bool(self.maximum(np.array([int(flag)], dtype=np.int64))[0])


# XGBoost's communicator is process-wide, so is this: whether this process joined a group it has not
# left cleanly (see end_process), and the leader's tracker, kept referenced until then so that its
# destructor does not run (and complain) while the failure is being reported.
_GROUP_JOINED = False
_TRACKER: RabitTracker | None = None


@contextmanager
def join(hosts: Hosts, settings: Settings, log: Log) -> Iterator[Group]:
    """Train inside the group of all hosts: start the tracker (leader), wait for it, join, leave.

    On one host this is a no-op. An XGBoost error inside the block (a lost host) becomes a
    ``HostsError``; any exception leaves the communicator as it is, for ``end_process``.
    """
    global _GROUP_JOINED, _TRACKER
    if hosts.count == 1:
        yield Group(hosts)
        return
    _GROUP_JOINED = True
    deadline = time.monotonic() + settings.timeout_seconds
    address = settings.tracker_address or _resolve(hosts, settings, deadline)
    if hosts.is_leader:
        _TRACKER = _start_tracker(hosts, address, settings)  # listening once it returns
    else:
        _wait_for_tracker(hosts, address, settings, deadline)
    log(f"host {hosts.current}: joining {hosts.count} hosts through the tracker on {hosts.leader} "
        f"({address}:{settings.tracker_port})")
    _init_communicator(hosts, address, settings)
    try:
        yield Group(hosts)
        collective.finalize()
        if _TRACKER is not None:
            _TRACKER.wait_for(settings.timeout_seconds)
            _TRACKER.free()
            _TRACKER = None
    except XGBoostError as exc:
        raise HostsError(
            f"Host {hosts.current} lost the other hosts while training together ({xgboost_reason(exc)}). Another "
            f"host failed, was stopped, or did not answer for {settings.timeout_seconds} s; its log and "
            "output/failure say why."
        ) from None
    _GROUP_JOINED = False


def end_process(code: int) -> int:
    """Return ``code``, or end the process with it now when a group was left uncleanly (module docstring)."""
    if _GROUP_JOINED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def xgboost_reason(exc: BaseException) -> str:
    """XGBoost's error without its stack trace: the reasons of its ``- [file:line|time]: ...`` lines."""
    lines = [line.strip() for line in str(exc).splitlines()]
    reasons = [re.sub(r"^- \[[^\]]*\]:\s*", "", line) for line in lines if line.startswith("- [")]
    return "; ".join(reason for reason in reasons if reason) or (lines[0] if lines else type(exc).__name__)


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _resolve(hosts: Hosts, settings: Settings, deadline: float) -> str:
    """The leader's address. SageMaker's docs: host names may not resolve at once, so retry."""
    while True:
        try:
            return socket.getaddrinfo(hosts.leader, settings.tracker_port, type=socket.SOCK_STREAM)[0][4][0]
        except OSError as exc:
            if _remaining(deadline) <= 0:
                raise HostsError(f"Host {hosts.current} could not resolve the first host's name {hosts.leader!r} "
                                 f"within {settings.timeout_seconds} s ({exc}).") from None
        time.sleep(min(PROBE_INTERVAL_SECONDS, _remaining(deadline)))


def _start_tracker(hosts: Hosts, address: str, settings: Settings) -> RabitTracker:
    try:
        tracker = RabitTracker(n_workers=hosts.count, host_ip=address, port=settings.tracker_port,
                               sortby="task", timeout=settings.timeout_seconds)
        tracker.start()
    except XGBoostError as exc:
        raise HostsError(f"Host {hosts.current} could not start the XGBoost tracker on {address}:{settings.tracker_port} "
                         f"({xgboost_reason(exc)}).") from None
    return tracker


def _wait_for_tracker(hosts: Hosts, address: str, settings: Settings, deadline: float) -> None:
    """Wait until the tracker accepts connections, as SageMaker's XGBoost container does before joining:
    XGBoost's own connect gives up after a few seconds, and the leader may start later than this host.
    (The tracker logs each such probe as a worker that "failed to verify": one warning per host.)"""
    while True:
        try:
            with socket.create_connection((address, settings.tracker_port), timeout=max(1.0, _remaining(deadline))):
                return
        except OSError as exc:
            if _remaining(deadline) <= 0:
                raise HostsError(
                    f"Host {hosts.current} could not reach the XGBoost tracker on the first host {hosts.leader} "
                    f"({address}:{settings.tracker_port}) within {settings.timeout_seconds} s ({exc}). That host did "
                    "not start, failed before training or is unreachable; its log and output/failure say why."
                ) from None
        time.sleep(min(PROBE_INTERVAL_SECONDS, _remaining(deadline)))


def _init_communicator(hosts: Hosts, address: str, settings: Settings) -> None:
    try:
        collective.init(dmlc_communicator="rabit", dmlc_tracker_uri=address, dmlc_tracker_port=settings.tracker_port,
                        dmlc_task_id=hosts.current, dmlc_timeout=settings.timeout_seconds)
    except XGBoostError as exc:
        raise HostsError(
            f"The {hosts.count} hosts could not start training together within {settings.timeout_seconds} s "
            f"({xgboost_reason(exc)}). A host did not start or failed before joining; its log and output/failure "
            "say why."
        ) from None
    rank, world = collective.get_rank(), collective.get_world_size()
    if (rank, world) != (hosts.rank, hosts.count):
        raise HostsError(f"Host {hosts.current} got rank {rank} of {world} from the tracker; expected {hosts.rank} of "
                         f"{hosts.count} (its place among the sorted host names).")


# --------------------------------------------------------------------------- the inputs


_INPUT_OK, _SHARD_EMPTY, _INPUT_BAD = 0, 1, 2


def check_inputs(group: Group, problem: TrainingInputError | None) -> None:
    """Every host learns which hosts could not read their input, and all fail together with the reason.

    Without this, a host with an empty shard (fewer S3 objects than hosts) would fail alone and
    the others would wait for it until the timeout. On one host, the problem is raised as is.
    """
    hosts = group.hosts
    kinds = np.zeros(hosts.count, dtype=np.int64)
    if isinstance(problem, EmptyChannelError) and problem.channel == "train":
        kinds[hosts.rank] = _SHARD_EMPTY
    elif problem is not None:
        kinds[hosts.rank] = _INPUT_BAD
    kinds = group.sum(kinds)
    if hosts.count == 1 or not kinds.any():
        if problem is not None:
            raise problem
        return
    reasons = []
    empty = [name for name, kind in zip(hosts.names, kinds, strict=True) if kind == _SHARD_EMPTY]
    if empty:
        reasons.append(
            f"host(s) {', '.join(empty)} received no training data: with {hosts.count} hosts, ShardedByS3Key gives "
            f"each host whole S3 objects of the train prefix, so it needs at least {hosts.count} CSV objects "
            f"(best a multiple of {hosts.count}, of similar size)"
        )
    bad = [name for name, kind in zip(hosts.names, kinds, strict=True) if kind == _INPUT_BAD]
    if bad:
        reasons.append(f"host(s) {', '.join(bad)} could not read their input (their output/failure says why)")
    own = f" On this host ({hosts.current}): {problem}" if problem is not None else ""
    raise TrainingInputError("; ".join(reasons) + "." + own)


def rows_per_host(rows: int, group: Group) -> tuple[int, ...]:
    """Every host's train row count, in host-name order: the job's total, and how balanced the shards are."""
    counts = np.zeros(group.hosts.count, dtype=np.int64)
    counts[group.hosts.rank] = rows
    return tuple(int(count) for count in group.sum(counts))
