"""Delete from the image's installed packages what the server never imports (run at build time).

The pinned closure installs to 252 MB, 113 MB of it scipy, which the server does not use:
xgboost 3.2 imports ``scipy.sparse`` (``xgboost/core.py``) and ``scipy.special``
(``xgboost/sklearn.py``) when it is imported, so scipy must be installed, but scoring dense
rows never calls it. Rather than a fake scipy, the image keeps the part of scipy that
``import xgboost`` loads (``KEEP_SCIPY``) and deletes the rest, plus every package's test
suite: 147 MB (``du -sh``). The Dockerfile proves the result at build time by importing the server and scoring a
row; tests/containers/test_inference_image.py rebuilds the pruned closure from the test
environment and runs the server's model code against it, so an xgboost or scipy upgrade that
needs more of scipy fails a test, not an endpoint.

Standard library only: it runs before the code of this package is copied into the image.

    python prune_packages.py SITE_PACKAGES
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

KEEP_SCIPY = frozenset({"_lib", "sparse", "special"})
"""scipy subpackages ``import xgboost`` loads: sparse (required by ``xgboost.core``), special
(``xgboost.sklearn``: without it xgboost still imports but silently drops its scikit-learn
wrappers, so it stays, 15 MB) and _lib, which both import. scipy's top-level modules
(``__init__``, ``version``, its extension modules) are always kept."""

PRUNED_TEST_SUITES = ("numpy", "scipy", "xgboost")
"""Packages whose ``tests`` folders are deleted: shipped for ``pytest --pyargs``, never imported."""


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    else:
        shutil.rmtree(path)


def _real_dir(path: Path) -> bool:
    # Never delete through a link: the tests prune a tree of links into their own environment.
    return path.is_dir() and not path.is_symlink()


def prunable(site_packages: Path) -> list[Path]:
    """What ``prune`` deletes, sorted: scipy subpackages outside KEEP_SCIPY, then test suites."""
    doomed = []
    scipy = site_packages / "scipy"
    if _real_dir(scipy):
        doomed += [p for p in scipy.iterdir() if p.is_dir() and not p.name.startswith("__") and p.name not in KEEP_SCIPY]
    for package in PRUNED_TEST_SUITES:
        root = site_packages / package
        if _real_dir(root):
            doomed += [p for p in root.rglob("tests") if _real_dir(p) and not any(d in p.parents for d in doomed)]
    return sorted(doomed)


def prune(site_packages: Path) -> list[Path]:
    """Delete ``prunable(site_packages)``; returns what was deleted."""
    doomed = prunable(site_packages)
    for path in doomed:
        _remove(path)
    return doomed


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python prune_packages.py SITE_PACKAGES", file=sys.stderr)
        return 2
    removed = prune(Path(argv[0]))
    print(f"pruned {len(removed)} folders the server never imports from {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
