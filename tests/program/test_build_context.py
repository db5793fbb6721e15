"""The training image's tag: which files Docker receives, and what changes the tag.

The tag must change whenever the docker-build provider would rebuild (an immutable tag pushed
twice fails the deploy), so the files it hashes must include every file the provider sends. The
expected results below are Docker's rules (moby/patternmatcher v0.6.1 and tonistiigi/fsutil's
filtered walk, the code the provider runs); each case was also run through that Go code, which
gave the same sets. The earlier fnmatch reading got three of these wrong in the unsafe
direction (it excluded files Docker sends): "star stays in one folder", "question mark is one
character, never a slash" and "later exclusion needs the path itself"; others it got wrong the
safe way ("comment only at the very start of a line", "leading slash and dot slash").
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from components.build_context import (
    PatternMatcher,
    build_context_tag,
    files_sent,
    ignore_file,
    read_ignore_patterns,
)
from components.training_pipeline import ROOT, TRAINING_BUILD, TRAINING_CONTEXT, TRAINING_DOCKERFILE

# (case, ignore file bytes, files in the context, files sent)
SENT = [
    ("no patterns", b"", ["a", "b/c"], ["a", "b/c"]),
    ("star stays in one folder", b"training/*.py\n", ["training/train.py", "training/sub/x.py", "training/README.md"],
     ["training/README.md", "training/sub/x.py"]),
    ("star at the top matches folders", b"*\n!keep\n", ["keep", "a/keep", "b"], ["keep"]),
    ("question mark is one character, never a slash", b"a?b\n", ["axb", "a/b/c", "ab"], ["a/b/c", "ab"]),
    ("double star at the end: everything below", b"a/**\n", ["a/b", "a/c/d", "ab"], ["ab"]),
    ("double star first: at any depth", b"**/__pycache__\n", ["__pycache__/x.pyc", "a/__pycache__/x.pyc", "a/__pycache__x"],
     ["a/__pycache__x"]),
    ("double star middle: zero or more folders", b"a/**/b\n", ["a/b", "a/x/y/b", "a/x/c", "ab"], ["a/x/c", "ab"]),
    ("double star then a glob", b"**/*.pyc\n", ["x.pyc", "a/b/x.pyc", "a/b/x.py"], ["a/b/x.py"]),
    ("leading slash and dot slash are the context root", b"/a\n./b\n", ["a", "b", "c/a", "c/b"], ["c/a", "c/b"]),
    ("trailing slash", b"a/\n", ["a/x", "ab"], ["ab"]),
    ("comment only at the very start of a line", b"#a\n #b\n", ["#a", "#b", "a", "b"], ["#a", "a", "b"]),
    ("byte order mark and CRLF", b"\xef\xbb\xbfa\r\nb\r\n", ["a", "b", "c"], ["c"]),
    ("escaped star is a star", b"\\*\n", ["*", "a"], ["a"]),
    ("dot is literal", b"a.b\n", ["a.b", "axb"], ["axb"]),
    ("exception inside an excluded folder", b"a\n!a/b/c\n", ["a/b/c", "a/b/d", "a/x"], ["a/b/c"]),
    ("later exclusion needs the path itself", b"a\n!a/x\na\n", ["a/x", "a/y"], ["a/x"]),
    ("last match wins", b"!a\na\n", ["a/x"], []),
    ("exception glob reaches into folders", b"*\n!*/keep\n", ["a/keep", "a/b/keep", "keep"], ["a/keep"]),
    ("exception for a folder re-includes its files", b"*\n!src\nsrc/tmp\n", ["src/a", "src/tmp/b", "x"], ["src/a"]),
    ("character class", b"[ab]\n", ["a", "b", "c"], ["c"]),
]


def _tree(root: Path, files: list[str]) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    return root


@pytest.mark.parametrize("case, ignore, files, sent", SENT, ids=[c[0] for c in SENT])
def test_files_sent_follow_dockers_ignore_rules(tmp_path, case, ignore, files, sent):
    context = _tree(tmp_path / "context", files)
    assert sorted(files_sent(context, read_ignore_patterns(ignore))) == sorted(sent)


@pytest.mark.parametrize("pattern, path, matches", [
    ("*", "a", True), ("*", "a/b", False), ("*.py", "training/train.py", False),
    ("?", "a", True), ("?", "ab", False),
    ("**", "a/b/c", True), ("a/**", "a", False), ("**/x", "x", True), ("a/**/b", "a/b", True),
    ("[!a]", "!", True),  # Go regexp: "!" is a member, not a negation
    ("a+", "a+", True), ("a+", "aa", False), ("a{2}", "aa", False),
])
def test_patterns_match_as_patternmatcher_compiles_them(pattern, path, matches):
    (compiled,) = PatternMatcher([pattern]).patterns
    assert compiled.match(path) is matches


def test_a_lone_exception_mark_is_refused_as_docker_refuses_it():
    with pytest.raises(ValueError, match="illegal exclusion pattern"):
        PatternMatcher(read_ignore_patterns(b"!/\n"))


def test_the_dockerfile_specific_ignore_file_wins(tmp_path):
    context = _tree(tmp_path, ["image/Dockerfile", ".dockerignore"])
    dockerfile = context / "image" / "Dockerfile"
    assert ignore_file(context, dockerfile) == context / ".dockerignore"
    (context / "image" / "Dockerfile.dockerignore").write_text("*\n")
    assert ignore_file(context, dockerfile) == context / "image" / "Dockerfile.dockerignore"
    (context / ".dockerignore").unlink()
    (context / "image" / "Dockerfile.dockerignore").unlink()
    assert ignore_file(context, dockerfile) is None


def test_the_training_context_sends_what_the_dockerfile_copies():
    context = ROOT / TRAINING_CONTEXT
    ignore = ignore_file(context, ROOT / TRAINING_DOCKERFILE)
    sent = files_sent(context, read_ignore_patterns(ignore.read_bytes()))
    assert "training/train.py" in sent and "contracts/metrics.py" in sent and "training/bin/train" in sent
    assert not [f for f in sent if "__pycache__" in f or f.startswith("inference/") or f.endswith(".md")]


# --- The tag -------------------------------------------------------------------------------------

INPUTS = {"platforms": ["linux/amd64"], "push": True, "build_on_preview": False}


def _context(root: Path) -> Path:
    """A context laid out like containers/: the image's folder with its Dockerfile-specific
    ignore file, a shared folder, and another image's folder that must not count."""
    _tree(root, ["image/Dockerfile", "image/train.py", "image/bin/train", "image/sub/helper.py", "image/README.md",
                 "shared/schema.py", "other/serve.py"])
    # `image/*.py` excludes image/sub/helper.py for fnmatch, not for Docker (star stays in one folder).
    (root / "image" / "Dockerfile.dockerignore").write_text(
        "*\n!shared/*.py\n!image\nimage/*.md\nimage/*.pyc\n**/__pycache__\n")
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def _tag(context: Path, inputs: dict = INPUTS) -> str:
    return build_context_tag(context, context / "image" / "Dockerfile", inputs)


def _symlink_to_same_content(context: Path) -> None:
    target = context / "image" / "train.py"
    (context / "copy.py").write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(context / "copy.py")


UNSENT_CHANGES = {
    "docs Docker never receives": lambda c: (c / "image" / "README.md").write_text("more docs\n"),
    "a cache folder": lambda c: (c / "image" / "__pycache__").mkdir() or (c / "image" / "__pycache__" / "x.pyc").write_bytes(b"\0"),
    "a file outside the allow-list": lambda c: (c / "notes.txt").write_text("local\n"),
    "another image's code": lambda c: (c / "other" / "serve.py").write_text("v2\n"),
    "the context's ignore file (the Dockerfile's wins)": lambda c: (c / ".dockerignore").write_text("nothing\n"),
    "a folder's permissions": lambda c: os.chmod(c / "image" / "bin", 0o700),
}
SENT_CHANGES = {
    "the image's code": lambda c: (c / "image" / "train.py").write_text("v2\n"),
    "code in a subfolder (fnmatch would have ignored it)": lambda c: (c / "image" / "sub" / "helper.py").write_text("v2\n"),
    "shared code": lambda c: (c / "shared" / "schema.py").write_text("v2\n"),
    "the Dockerfile": lambda c: (c / "image" / "Dockerfile").write_text("FROM python:3.12-slim\n"),
    "the ignore rules": lambda c: (c / "image" / "Dockerfile.dockerignore").write_text("*\n!shared/*.py\n!image\n"),
    "an executable bit": lambda c: os.chmod(c / "image" / "bin" / "train", 0o755),
    "a group write bit": lambda c: os.chmod(c / "image" / "train.py", 0o664),
    "a new file": lambda c: (c / "image" / "new.py").write_text("x = 1\n"),
    "a file renamed": lambda c: (c / "image" / "train.py").rename(c / "image" / "train2.py"),
    "a file turned into a symlink to the same content": _symlink_to_same_content,
}
INPUT_CHANGES = {
    "platforms": {"platforms": ["linux/arm64"]},
    "push": {"push": False},
    "build_on_preview": {"build_on_preview": True},
    "a new input such as build args": {"build_args": {"X": "1"}},
}


def test_the_tag_is_the_same_for_the_same_content_anywhere(tmp_path):
    tag = _tag(_context(tmp_path / "one"))
    assert tag.startswith("src-") and len(tag) == 20
    assert _tag(_context(tmp_path / "two")) == tag


@pytest.mark.parametrize("change", UNSENT_CHANGES.values(), ids=UNSENT_CHANGES)
def test_changes_docker_never_sees_keep_the_tag(tmp_path, change):
    context = _context(tmp_path)
    before = _tag(context)
    change(context)
    assert _tag(context) == before


@pytest.mark.parametrize("change", SENT_CHANGES.values(), ids=SENT_CHANGES)
def test_every_change_the_provider_hashes_changes_the_tag(tmp_path, change):
    context = _context(tmp_path)
    before = _tag(context)
    change(context)
    assert _tag(context) != before


@pytest.mark.parametrize("update", INPUT_CHANGES.values(), ids=INPUT_CHANGES)
def test_every_other_provider_input_changes_the_tag(tmp_path, update):
    context = _context(tmp_path)
    assert _tag(context, {**INPUTS, **update}) != _tag(context)


def test_the_training_tag_hashes_the_training_build_inputs():
    tag = build_context_tag(ROOT / TRAINING_CONTEXT, ROOT / TRAINING_DOCKERFILE, TRAINING_BUILD)
    assert build_context_tag(ROOT / TRAINING_CONTEXT, ROOT / TRAINING_DOCKERFILE,
                             {**TRAINING_BUILD, "platforms": ["linux/arm64"]}) != tag
