"""Throughput and latency of the inference server against SageMaker's framework stack.

Run by hand (never a timed test), on a machine that is otherwise idle:

    venv/bin/python benchmarks/inference_server.py [--model-dir DIR] [--duration 10] [--rounds 3]
        [--connections 4] [--workers 1] [--no-pin]

In one run it trains the sample model (or reuses ``--model-dir``), starts the inference server
(``containers.inference.serve``) and the reference (benchmarks/inference_reference.py: the
same decode/predict/encode behind Flask on gunicorn gthread, 1 worker, 4 threads) on that
model, checks both answer the same, then loads them in turn with wrk (Debian's package:
``apt-get install wrk``) on loopback for single-row CSV, single-row JSON and 100-row CSV,
``--rounds`` times, alternating which server goes first. It prints requests/s, p50 and p99
latency and errors per server (medians over rounds), the ratio to the reference, and the
in-process ceiling 1 / (parse + predict) of one single-row request, then checks the targets
of issue 8: >= 2.0x the reference's throughput on single rows, p99 no worse than the
reference's, >= 60 % of the single-core ceiling per worker.

With two or more CPUs, servers are pinned to CPU 0 and wrk to CPU 1 (``taskset``), so "per
worker" means one core and the load generator does not steal it; ``--no-pin`` turns that off.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from containers.contracts.features import FEATURES  # noqa: E402

SAMPLE_ROW = [12, 70.5, 846.0, 2, 0, 3, 1, 1, 14]
assert len(SAMPLE_ROW) == len(FEATURES)
ROW_CSV = ",".join(str(v) for v in SAMPLE_ROW)


@dataclass(frozen=True)
class Scenario:
    name: str
    content_type: str
    body: str
    rows: int


SCENARIOS = (
    Scenario("single-row CSV", "text/csv", ROW_CSV + "\n", 1),
    Scenario("single-row JSON", "application/json", json.dumps(SAMPLE_ROW), 1),
    Scenario("100-row CSV", "text/csv", (ROW_CSV + "\n") * 100, 100),
)


@dataclass(frozen=True)
class Measurement:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


# --------------------------------------------------------------------------- the model and the ceiling


def sample_model(out: Path) -> Path:
    """Train the sample model with the training image's own code (containers.training.local_run)."""
    subprocess.run([sys.executable, "-m", "containers.training.local_run", "--out", str(out)], cwd=ROOT, check=True, capture_output=True)
    return out / "model"


def ceiling(model_dir: Path, pin: bool) -> dict[str, float]:
    """Median microseconds of decode and predict for one single-row CSV request, in this process."""
    import numpy as np  # noqa: F401 - loaded before timing

    from containers.inference import decoding
    from containers.inference import model as model_loading

    model = model_loading.load(model_dir)
    body = SCENARIOS[0].body.encode()
    previous = os.sched_getaffinity(0)
    if pin:
        os.sched_setaffinity(0, {0})
    try:

        def timed(step, repeat: int = 500, batches: int = 30) -> float:
            samples = []
            for _ in range(batches):
                started = time.perf_counter()
                for _ in range(repeat):
                    step()
                samples.append((time.perf_counter() - started) / repeat * 1e6)
            return statistics.median(samples)

        rows = decoding.decode(body, decoding.CSV)
        parse_us = timed(lambda: decoding.decode(body, decoding.CSV))
        predict_us = timed(lambda: model.predict(rows))
    finally:
        os.sched_setaffinity(0, previous)
    return {"parse_us": parse_us, "predict_us": predict_us, "requests_per_second": 1e6 / (parse_us + predict_us)}


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pinned(command: list[str], cpu: int | None) -> list[str]:
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """Start a server, wait for /ping 200, yield its /invocations URL; always stopped."""
    with open(log, "w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2).status == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not come up; see {log}:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/invocations"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def post(url: str, scenario: Scenario) -> bytes:
    request = urllib.request.Request(url, data=scenario.body.encode(), headers={"Content-Type": scenario.content_type})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read()


# --------------------------------------------------------------------------- wrk


def wrk_script(scenario: Scenario, folder: Path) -> Path:
    path = folder / f"{re.sub(r'[^a-z0-9]+', '-', scenario.name.lower())}.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        f'wrk.headers["Content-Type"] = "{scenario.content_type}"\n'
        f"wrk.body = [==[{scenario.body}]==]\n"
    )
    return path


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _latency_ms(text: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([0-9.]+)(us|ms|s)\s*$", text, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no {percentile}% latency:\n{text}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(text: str) -> Measurement:
    """Requests/s, p50, p99 and errors (non-2xx answers plus socket errors) from ``wrk --latency``."""
    rate = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    if not rate:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{text}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(int(g) for g in sockets.groups()) if sockets else 0)
    return Measurement(float(rate.group(1)), _latency_ms(text, "50"), _latency_ms(text, "99"), errors)


def load(url: str, script: Path, duration: int, connections: int, cpu: int | None) -> Measurement:
    command = _pinned(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "--latency", "-s", str(script), url], cpu)
    return parse_wrk(subprocess.run(command, check=True, capture_output=True, text=True, timeout=duration + 60).stdout)


# --------------------------------------------------------------------------- report


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    packages = ("xgboost-cpu", "uvicorn", "uvloop", "httptools", "flask", "gunicorn")
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in packages)
    return (
        f"{datetime.date.today().isoformat()}, {platform.node()}: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"{versions}, wrk {subprocess.run(['wrk', '-v'], capture_output=True, text=True).stdout.split()[1]}"
    )


def median_of(measurements: list[Measurement]) -> Measurement:
    return Measurement(
        statistics.median(m.requests_per_second for m in measurements),
        statistics.median(m.p50_ms for m in measurements),
        statistics.median(m.p99_ms for m in measurements),
        sum(m.errors for m in measurements),
    )


def report(results: dict[str, dict[str, Measurement]], limit: dict[str, float], workers: int) -> list[str]:
    lines = [
        f"{'scenario':<16} {'server':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ratio':>6}",
    ]
    for scenario in SCENARIOS:
        ours, reference = results[scenario.name]["inference"], results[scenario.name]["reference"]
        for name, m in (("inference", ours), ("reference", reference)):
            ratio = f"{m.requests_per_second / reference.requests_per_second:.2f}x"
            lines.append(
                f"{scenario.name:<16} {name:<10} {m.requests_per_second:>9.0f} {m.p50_ms:>8.2f} {m.p99_ms:>8.2f} {m.errors:>7} {ratio:>6}"
            )
    lines.append(
        f"in-process ceiling, one single-row CSV request: parse {limit['parse_us']:.1f} us + predict {limit['predict_us']:.1f} us"
        f" -> {limit['requests_per_second']:.0f} req/s per core"
    )
    for scenario in SCENARIOS[:2]:
        ours, reference = results[scenario.name]["inference"], results[scenario.name]["reference"]
        ratio = ours.requests_per_second / reference.requests_per_second
        share = ours.requests_per_second / workers / limit["requests_per_second"]
        lines.append(
            f"targets, {scenario.name}: throughput {ratio:.2f}x the reference (>= 2.0x: {'met' if ratio >= 2 else 'MISSED'}); "
            f"p99 {ours.p99_ms:.2f} vs {reference.p99_ms:.2f} ms ({'met' if ours.p99_ms <= reference.p99_ms else 'MISSED'}); "
            f"{share:.0%} of the ceiling per worker (>= 60 %: {'met' if share >= 0.6 else 'MISSED'})"
        )
    return lines


# --------------------------------------------------------------------------- run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, help="reuse this model folder instead of training the sample model")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per server, scenario and round (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per scenario (default %(default)s)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="inference server workers (default %(default)s, like the reference)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers to CPU 0 and wrk to CPU 1")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    pin = not args.no_pin and os.cpu_count() >= 2 and shutil.which("taskset") is not None
    server_cpu, client_cpu = (0, 1) if pin else (None, None)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f} at start", flush=True)
    with tempfile.TemporaryDirectory(prefix="inference-bench-") as scratch:
        folder = Path(scratch)
        model_dir = args.model_dir or sample_model(folder / "ml")
        print(f"model: {model_dir}", flush=True)
        limit = ceiling(model_dir, pin)
        env = {"PYTHONPATH": str(ROOT), "SM_MODEL_DIR": str(model_dir)}
        ours_port, reference_port = free_port(), free_port()
        serve = [sys.executable, "-m", "containers.inference.serve", "--host", "127.0.0.1"]
        inference = _pinned([*serve, "--port", str(ours_port), "--workers", str(args.workers)], server_cpu)
        gunicorn = [str(Path(sys.executable).with_name("gunicorn")), "-w", "1", "-k", "gthread", "--threads", "4"]
        reference = _pinned(
            [*gunicorn, "-b", f"127.0.0.1:{reference_port}", "--chdir", str(ROOT / "benchmarks"), "inference_reference:app"], server_cpu
        )
        with (
            running(inference, env, ours_port, folder / "inference.log") as ours_url,
            running(reference, env, reference_port, folder / "reference.log") as reference_url,
        ):
            urls = {"inference": ours_url, "reference": reference_url}
            for scenario in SCENARIOS:
                answers = {name: post(url, scenario) for name, url in urls.items()}
                if len(set(answers.values())) != 1:
                    raise RuntimeError(f"{scenario.name}: the servers answer differently: {answers}")
            results = measure(urls, args, folder, client_cpu)
    for line in report(results, limit, args.workers):
        print(line)
    print(f"load average {os.getloadavg()[0]:.2f} at the end (a busy machine makes every figure low)")
    return 0


def measure(urls: dict[str, str], args: argparse.Namespace, folder: Path, client_cpu: int | None) -> dict[str, dict[str, Measurement]]:
    """Every scenario, ``args.rounds`` times, the two servers in alternating order; medians."""
    results: dict[str, dict[str, Measurement]] = {}
    for scenario in SCENARIOS:
        script = wrk_script(scenario, folder)
        samples: dict[str, list[Measurement]] = {name: [] for name in urls}
        for round_number in range(args.rounds):
            order = list(urls) if round_number % 2 == 0 else list(reversed(urls))
            for name in order:
                load(urls[name], script, 1, args.connections, client_cpu)  # warm-up, not counted
                samples[name].append(load(urls[name], script, args.duration, args.connections, client_cpu))
                print(f"  {scenario.name}, round {round_number + 1}, {name}: {samples[name][-1].requests_per_second:.0f} req/s", flush=True)
        results[scenario.name] = {name: median_of(found) for name, found in samples.items()}
    return results


if __name__ == "__main__":
    sys.exit(main())
