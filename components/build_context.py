"""What the docker-build provider sends of a build context, and the image tag made from it.

The training repository's tags are immutable, so a tag must change whenever the provider would
rebuild and push (a second push of a tag fails), and should not change otherwise (a needless
image and state machine update). The provider (pulumi-docker-build v0.0.22) rebuilds when an
input its `Image.Diff` compares changes, or when its context hash does. That hash
(provider/internal/context.go, hashBuildContext) covers the Dockerfile's content and, for every
file BuildKit would receive, its content, path and full mode string; which files those are is
decided by tonistiigi/fsutil's filtered walk (filter.go, FilterFS.Walk) over the patterns of
moby/patternmatcher v0.6.1 (patternmatcher.go, ignorefile/ignorefile.go).

`files_sent` is a port of that walk and matcher, so the set of files read here is exactly the
provider's (cross-checked against the Go code; tests/program/test_build_context.py holds the
cases). `build_context_tag` hashes those files with their path, type and permission bits, the
Dockerfile, the ignore file, and every other provider input the caller passes, so whatever
changes the provider's decision to rebuild also changes the tag.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IGNORE_SUFFIX = ".dockerignore"
# Characters that make a negated pattern a glob rather than a plain path (fsutil's patternChars
# on Unix): with one of them, fsutil walks into every excluded directory.
_PATTERN_CHARS = set("*[]?^\\")
# Regex characters filepath.Match gives no meaning, escaped by patternmatcher (shouldEscape).
_REGEX_ESCAPED = set(".+()|{}$")


def ignore_file(context: Path, dockerfile: Path) -> Path | None:
    """The ignore file the provider and BuildKit apply: `<Dockerfile>.dockerignore` if present,
    else the context's `.dockerignore` (the provider's getIgnorePatterns), else none."""
    for candidate in (dockerfile.with_name(dockerfile.name + IGNORE_SUFFIX), context / IGNORE_SUFFIX):
        if candidate.is_file():
            return candidate
    return None


def _go_clean(path: str) -> str:
    """Go's filepath.Clean on a slash path (normpath, but `//x` is `/x` as in Go)."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def read_ignore_patterns(data: bytes) -> list[str]:
    """moby/patternmatcher ignorefile.ReadAll: a BOM on the first line is dropped, lines that
    start with `#` (before any trimming) are comments, the rest are trimmed, cleaned and lose a
    leading `/`; `!` marks an exception."""
    patterns = []
    for number, raw in enumerate(data.split(b"\n")):
        line = raw.removesuffix(b"\r")
        if number == 0:
            line = line.removeprefix(b"\xef\xbb\xbf")
        text = line.decode("utf-8", "surrogateescape")
        if text.startswith("#"):
            continue
        text = text.strip()
        if not text:
            continue
        invert = text.startswith("!")
        if invert:
            text = text[1:].strip()
        if text:
            text = _go_clean(text)
            if len(text) > 1 and text.startswith("/"):
                text = text[1:]
        patterns.append("!" + text if invert else text)
    return patterns


@dataclass(frozen=True)
class Pattern:
    """One compiled pattern (patternmatcher's Pattern.compile, with `/` as the separator)."""

    text: str  # cleaned, without the leading `!`
    exclusion: bool  # a `!pattern`: re-includes what earlier patterns excluded
    kind: str  # "exact", "prefix" (`a/**`), "suffix" (`**/a`) or "regexp"
    regexp: re.Pattern[str] | None

    @classmethod
    def compile(cls, pattern: str) -> Pattern:
        text = _go_clean(pattern.strip())
        exclusion = text.startswith("!")
        if exclusion:
            if len(text) == 1:
                raise ValueError('illegal exclusion pattern: "!"')
            text = text[1:]
        kind, regexp = _translate(text)
        return cls(text, exclusion, kind, re.compile(regexp) if kind == "regexp" else None)

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        return self.regexp.fullmatch(path) is not None

    def without_trailing_glob(self) -> str:
        """fsutil's patternWithoutTrailingGlob: the pattern less a final `/**`, then a final `/*`."""
        return self.text.removesuffix("/**").removesuffix("/*")


def _translate(text: str) -> tuple[str, str]:
    """Pattern.compile: `*` and `?` never cross `/`, `**` does; `**` first is a suffix match,
    `**` last (with nothing glob before it) a prefix match; `\\` escapes the next character."""
    regexp, kind, position, index = "", "exact", 0, 0
    while position < len(text):
        char = text[position]
        position += 1
        if char == "*" and text[position:position + 1] == "*":
            position, regexp, kind = _double_star(text, position + 1, regexp, kind, first=index == 0)
        elif char == "*":
            regexp, kind = regexp + "[^/]*", "regexp"
        elif char == "?":
            regexp, kind = regexp + "[^/]", "regexp"
        elif char in _REGEX_ESCAPED:
            regexp += "\\" + char
        elif char == "\\":
            if position < len(text):
                regexp, kind = regexp + "\\" + text[position], "regexp"
                position += 1
            else:
                regexp += "\\"
        elif char in "[]":
            regexp, kind = regexp + char, "regexp"
        else:
            regexp += char
        index += 1
    return kind, regexp


def _double_star(text: str, position: int, regexp: str, kind: str, first: bool) -> tuple[int, str, str]:
    """`**` (and a `/` after it): anything, slashes included; at the end of an otherwise plain
    pattern a prefix, at its start a suffix. Returns where reading goes on, the regexp and kind."""
    if text[position:position + 1] == "/":
        position += 1
    if position < len(text):
        regexp, kind = regexp + "(.*/)?", "regexp"
    elif kind == "exact":
        kind = "prefix"
    else:
        regexp, kind = regexp + ".*", "regexp"
    return position, regexp, "suffix" if first else kind


class PatternMatcher:
    """patternmatcher.PatternMatcher, as fsutil uses it while walking a context."""

    def __init__(self, patterns: Sequence[str]):
        self.patterns = [Pattern.compile(p) for p in patterns if p.strip()]
        self.exclusions = any(p.exclusion for p in self.patterns)

    def matches_using_parent_results(self, path: str, parent: Sequence[bool]) -> tuple[bool, list[bool]]:
        """MatchesUsingParentResults: whether `path` is excluded, and which patterns matched it
        (or its parent) for its children. A pattern that matched the parent directory counts as
        matched; one that did not is tried on the path itself only, and only when it could change
        the outcome so far, so the result is not simply "the last pattern matching the path or
        any parent wins"."""
        matched, info = False, [False] * len(self.patterns)
        for index, pattern in enumerate(self.patterns):
            match = bool(parent) and parent[index]
            if not match:
                if pattern.exclusion != matched:
                    continue
                match = pattern.match(path) or (not parent and self._matches_a_parent(pattern, path))
            info[index] = match
            if match:
                matched = not pattern.exclusion
        return matched, info

    @staticmethod
    def _matches_a_parent(pattern: Pattern, path: str) -> bool:
        parts = path.split("/")[:-1]
        return any(pattern.match("/".join(parts[: i + 1])) for i in range(len(parts)))

    def may_reinclude_under(self, directory: str) -> bool:
        """Whether the walk must enter an excluded directory (FilterFS.Walk's optimization): when
        every exception is a plain path, only directories on the way to one of them are entered."""
        exceptions = [p for p in self.patterns if p.exclusion]
        if any(_PATTERN_CHARS & set(p.without_trailing_glob()) for p in exceptions):
            return True
        return any((p.without_trailing_glob() + "/").startswith(directory + "/") for p in exceptions)


def files_sent(context: Path, patterns: Sequence[str]) -> list[str]:
    """The context's files (slash paths relative to it) that the provider hashes and BuildKit
    receives: fsutil's FilterFS.Walk with these exclude patterns, in its lexical order."""
    matcher = PatternMatcher(patterns) if patterns else None
    sent: list[str] = []

    def walk(directory: Path, relative: str, parent: Sequence[bool]) -> None:
        for name in sorted(os.listdir(directory)):
            path = directory / name
            child = f"{relative}/{name}" if relative else name
            is_dir = path.is_dir() and not path.is_symlink()
            excluded, info = matcher.matches_using_parent_results(child, parent) if matcher else (False, [])
            if is_dir:
                if not excluded or matcher.may_reinclude_under(child):
                    walk(path, child, info)
            elif not excluded:
                sent.append(child)

    walk(context, "", [])
    return sent


def _file_record(context: Path, relative: str) -> bytes | None:
    """What of a sent file the provider's hashFile reads: content (through a symlink), path and
    mode (type and permission bits, of the link itself). Symlinks to directories, sockets and the
    like it skips."""
    path = context / relative
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode) and path.is_dir() or not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        return None
    content = path.read_bytes() if path.exists() else os.readlink(path).encode()
    return f"{relative}\0{mode:o}\0".encode() + hashlib.sha256(content).digest()


def build_context_tag(context: Path, dockerfile: Path, provider_inputs: Mapping[str, Any]) -> str:
    """`src-` and 16 hex digits of a hash of everything the provider's rebuild decision reads.

    `provider_inputs` are the image's other inputs (platforms, push, build_on_preview...): all
    of them but the tags (the tag itself) and the registry credentials (the provider ignores
    password changes, and a new registry address is a new repository, where no tag exists yet).
    """
    digest = hashlib.sha256(json.dumps(provider_inputs, sort_keys=True).encode() + b"\0")
    ignore = ignore_file(context, dockerfile)
    for special in (dockerfile, ignore):
        if special is not None:
            digest.update(special.name.encode() + b"\0" + special.read_bytes() + b"\0")
    patterns = read_ignore_patterns(ignore.read_bytes()) if ignore else []
    for relative in files_sent(context, patterns):
        record = _file_record(context, relative)
        if record is not None:
            digest.update(record)
    return f"src-{digest.hexdigest()[:16]}"
