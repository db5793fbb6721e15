"""scripts/build_drift_numpy.py: the numpy the drift function carries, unpacked from the wheel
(without the network: a wheel made here stands in for pip's download)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy

from components import drift
from scripts import build_drift_numpy


def fake_wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return path


def test_the_wheel_is_unpacked_without_its_tests_and_byte_for_byte_repeatable(tmp_path):
    wheel = fake_wheel(tmp_path / "numpy-2.4.6-cp313-cp313-manylinux_2_28_aarch64.whl", {
        "numpy/__init__.py": b"x = 1\n", "numpy/_core/tests/test_a.py": b"", "numpy/tests/test_b.py": b"",
        "numpy/linalg/lapack_lite.so": b"\x7fELF", "numpy.libs/libopenblas.so": b"\x7fELF" * 10,
        "numpy-2.4.6.dist-info/METADATA": b"Name: numpy\n", "numpy/__pycache__/x.cpython-313.pyc": b""})
    first, second = tmp_path / "a", tmp_path / "b"
    unpacked, zipped = build_drift_numpy.unpack(wheel, first)
    build_drift_numpy.unpack(wheel, second)
    files = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    assert files == ["numpy-2.4.6.dist-info/METADATA", "numpy.libs/libopenblas.so", "numpy/__init__.py",
                     "numpy/linalg/lapack_lite.so"]
    assert unpacked == sum((first / f).stat().st_size for f in files) and 0 < zipped
    for name in files:
        one, two = (first / name).stat(), (second / name).stat()
        assert (one.st_mtime, one.st_mode) == (two.st_mtime, two.st_mode) == (build_drift_numpy.FIXED_TIME, one.st_mode)
        assert (first / name).read_bytes() == (second / name).read_bytes()
    assert set(drift.NUMPY_FOLDERS) <= {name.split("/")[0] for name in files}


def test_the_function_carries_the_numpy_the_tests_run_the_drift_statistics_with():
    """The containers pin numpy to the venv's (their tests hold them equal); the function takes that pin."""
    assert build_drift_numpy.numpy_pin() == numpy.__version__
