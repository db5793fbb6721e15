"""The drift function's statistics against evidently's data drift preset, on the same data.

Run by hand (never a timed test; evidently is not a project dependency):

    python3 -m venv /tmp/evidently-venv && /tmp/evidently-venv/bin/pip install evidently
    venv/bin/python benchmarks/drift.py --evidently-python /tmp/evidently-venv/bin/python

20 features (14 numeric of several shapes, 6 categorical codes) x 100,000 captured rows against a
100,000-row training set, 4 of them drifted. The data is generated once and saved; each engine
then runs in a process of its own, so its peak memory (ru_maxrss of that process: interpreter,
libraries and data included) is its own:

- numpy: what the drift function does after reading the capture: the trainer's baseline of the
  training rows (containers/training/baseline_statistics.py binning rule), checked and parsed
  (functions/drift/baseline.py), every feature's test, the correction and the decision
  (functions/drift/detect.py `compare`);
- evidently: `Report([DataDriftPreset()])` run on the two DataFrames (its default tests and
  thresholds), the snapshot's drift count read back.

Time is the comparison alone (imports and loading the saved data excluded, reported apart), the
median of `--repeat` runs. The package size is what Lambda unpacks: the function's folder with
functions/shared and the numpy it carries (scripts/build_drift_numpy.py), against evidently's
installed closure in the throwaway venv.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FEATURES, ROWS, CATEGORICAL = 20, 100_000, 6
DRIFTED = {"f00": "mean", "f04": "variance", "f16": "categorical", "f18": "categorical"}


def generate(folder: Path, seed: int = 7) -> None:
    """Training and captured data (features f00..f19; the last 6 categorical codes), as .npy."""
    rng = np.random.default_rng(seed)

    def draw(rows: int, drifted: bool) -> np.ndarray:
        columns = []
        for index in range(FEATURES):
            name = f"f{index:02d}"
            shift = drifted and name in DRIFTED
            if index >= FEATURES - CATEGORICAL:
                p = np.array([0.5, 0.3, 0.15, 0.05]) if not shift else np.array([0.3, 0.3, 0.25, 0.15])
                columns.append(rng.choice(4, size=rows, p=p).astype(float))
            elif index % 3 == 0:
                columns.append(rng.normal(0.5 if shift and DRIFTED[name] == "mean" else 0.0, 1.0, rows))
            elif index % 3 == 1:
                columns.append(rng.lognormal(0.0, 0.9 if shift else 0.6, rows))
            else:
                columns.append(rng.uniform(0, 100, rows))
        return np.column_stack(columns)

    np.save(folder / "reference.npy", draw(ROWS, False))
    np.save(folder / "current.npy", draw(ROWS, True))


def baseline_document(reference: np.ndarray) -> dict:
    """The trainer's baseline format for these columns (its binning rule, its fractions)."""
    from containers.contracts import baseline as contract
    from containers.training.baseline_statistics import _bin_edges

    features = {}
    for index in range(reference.shape[1]):
        column, kind = reference[:, index], "int" if index >= FEATURES - CATEGORICAL else "float"
        edges = _bin_edges(kind, float(column.min()), float(column.max()))
        counts, _ = np.histogram(column, bins=edges)
        features[f"f{index:02d}"] = {"type": kind, "count": int(column.size), "missing": 0,
                                     "histogram": {"bin_edges": edges.tolist(), "counts": (counts / column.size).tolist()}}
    return {"format_version": contract.FORMAT_VERSION, "target": "y", "row_count": int(reference.shape[0]),
            "positive_rate": 0.3, "feature_names": list(features), "features": features}


class Matrix:
    """The part of functions/drift/capture.py `Captured` that `compare` reads."""

    def __init__(self, features: np.ndarray):
        self.matrix, self.scores = features, []

    def features(self) -> np.ndarray:
        return self.matrix


def run_numpy(folder: Path, repeat: int) -> dict:
    started = time.perf_counter()
    from functions.drift import baseline as baselines
    from functions.drift.detect import compare
    imported = time.perf_counter() - started
    reference, current = np.load(folder / "reference.npy"), np.load(folder / "current.npy")
    document = json.loads(json.dumps(baseline_document(reference)))  # as read from baseline.json
    timings, drifted = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        results, _ = compare(baselines.parse(document, "benchmark"), Matrix(current))
        timings.append(time.perf_counter() - started)
        drifted = sorted(r.name for r in results if r.drifted)
    return {"seconds": timings, "import_seconds": imported, "drifted": drifted}


def run_evidently(folder: Path, repeat: int) -> dict:
    started = time.perf_counter()
    import pandas as pd
    try:  # evidently >= 0.7
        from evidently import Report
        from evidently.presets import DataDriftPreset
        legacy = False
    except ImportError:  # evidently 0.4 - 0.6
        from evidently.metric_preset import DataDriftPreset
        from evidently.report import Report
        legacy = True
    import evidently
    imported = time.perf_counter() - started
    names = [f"f{i:02d}" for i in range(FEATURES)]
    reference = pd.DataFrame(np.load(folder / "reference.npy"), columns=names)
    current = pd.DataFrame(np.load(folder / "current.npy"), columns=names)
    for name in names[FEATURES - CATEGORICAL:]:
        reference[name], current[name] = reference[name].astype(int), current[name].astype(int)
    timings, summary = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        report = Report([DataDriftPreset()]) if not legacy else Report(metrics=[DataDriftPreset()])
        if legacy:
            report.run(reference_data=reference, current_data=current)
            summary = report.as_dict()["metrics"][0]["result"]
        else:
            summary = report.run(current_data=current, reference_data=reference).dict()["metrics"][0]["value"]
        timings.append(time.perf_counter() - started)
    return {"seconds": timings, "import_seconds": imported, "summary": summary, "version": evidently.__version__}


def child(engine: str, folder: Path, repeat: int) -> None:
    result = run_numpy(folder, repeat) if engine == "numpy" else run_evidently(folder, repeat)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result, default=str))


def measure(python: str, engine: str, folder: Path, repeat: int) -> dict:
    answer = subprocess.run([python, __file__, "--child", engine, "--data", str(folder), "--repeat", str(repeat)],
                            cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(answer.stdout.strip().splitlines()[-1])


def tree_size(paths: list[Path]) -> int:
    return sum(f.stat().st_size for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file())


def zipped_size(paths: list[Path]) -> int:
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            for file in sorted(f for f in path.rglob("*") if f.is_file()):
                archive.write(file, file.relative_to(path.parent).as_posix())
    return len(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evidently-python", help="a Python with evidently installed (a throwaway venv)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--numpy", type=Path, default=ROOT / "build" / "lambda-packages" / "drift-numpy",
                        help="the folder scripts/build_drift_numpy.py makes")
    parser.add_argument("--child", choices=["numpy", "evidently"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.repeat)
        return
    with tempfile.TemporaryDirectory() as folder:
        generate(Path(folder))
        ours = measure(sys.executable, "numpy", Path(folder), args.repeat)
        theirs = measure(args.evidently_python, "evidently", Path(folder), args.repeat) if args.evidently_python else None
    ours_s = statistics.median(ours["seconds"])
    print(f"numpy: median {ours_s:.3f} s over {args.repeat} (imports {ours['import_seconds']:.2f} s), "
          f"peak {ours['peak_mb']:.0f} MB, drifted {ours['drifted']} (planted {sorted(DRIFTED)})")
    code = tree_size([ROOT / "functions" / "__init__.py", ROOT / "functions" / "shared", ROOT / "functions" / "drift"])
    if args.numpy.is_dir():
        numpy_files = [args.numpy / folder for folder in ("numpy", "numpy.libs")]
        print(f"package: function code {code / 1024:.0f} KB + numpy {tree_size(numpy_files) / 2**20:.1f} MB unpacked "
              f"({zipped_size(numpy_files) / 2**20:.1f} MB zipped)")
    if theirs:
        site = Path(subprocess.run([args.evidently_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
        theirs_s = statistics.median(theirs["seconds"])
        print(f"evidently {theirs['version']}: median {theirs_s:.3f} s over {args.repeat} (imports "
              f"{theirs['import_seconds']:.2f} s), peak {theirs['peak_mb']:.0f} MB, drifted columns {theirs['summary']}; "
              f"its venv's site-packages {tree_size([site]) / 2**20:.0f} MB")
        print(f"numpy is {theirs_s / ours_s:.1f}x faster")


if __name__ == "__main__":
    main()
