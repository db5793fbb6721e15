"""The one strict reader of `Pulumi.yaml`, the stack files and the pull-request template.

A stack file decides what gets deployed, so a malformed one must fail as one clear error
(file, line:column, what to do), never as a traceback, a hang, a blown memory limit or a value
read differently from the way the Pulumi CLI reads it. The CLI parses these files with Go's
yaml.v3, which follows YAML 1.2's core schema; PyYAML's `safe_load` follows YAML 1.1, so the
two disagree on plain scalars (`yes`, `on` and `off` are booleans to PyYAML, strings to the CLI;
`1e3` is a string to PyYAML, a number to the CLI). Everything offline (the offline engine, the
driver's preflight, the PR template) therefore reads through `load` here, which resolves plain
scalars the way yaml.v3's `resolve.go` does:

- `true`/`false` (also `True`, `TRUE`, ...) are the only booleans: `yes`, `no`, `on`, `off`, `y`, `n`
  stay strings. `~`, `null` and an empty value are null.
- Numbers as yaml.v3 reads them: decimal, `0x`/`0o`/`0b` integers, a leading `0` is octal, `_`
  is ignored; floats with or without a dot (`1e3`), `.inf`, `-.inf`, `.nan`.
- An unquoted date or timestamp (`2030-03-06`) is an error, wherever it is: yaml.v3 turns it into
  a timestamp, which the CLI passes on as `2030-03-06T00:00:00Z` inside a list or mapping (and as
  the text at the top level). Quote it to mean the text; one rule is simpler than two.
- `load_config` then hands values on as the CLI does: a top-level scalar as the text written in
  the file, lists and mappings as JSON in which a whole float is an integer (`cli_json`).

And it refuses, with the position of the problem: bytes that are not UTF-8; more than one
document; a top-level value that is not a mapping (an empty file is an empty mapping, as for
the CLI); tags other than the core schema's (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`,
`!!seq`, `!!map`), so no `!!python/...`, `!!binary`, `!!set`, `!!timestamp` or custom `!tag`;
keys that are not strings; duplicate keys (YAML forbids them and yaml.v3 rejects them; PyYAML
silently keeps the last); merge keys (`<<`); nesting deeper than `MAX_DEPTH`; and aliases that
expand to more than `MAX_VALUES` values or refer to themselves, counted as if expanded, so a
"billion laughs" file fails in milliseconds instead of filling memory. Files over `MAX_BYTES`,
directories, FIFOs and unreadable paths are errors too, checked before anything is read.
"""

from __future__ import annotations

import json
import math
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

MAX_BYTES = 1024 * 1024
"""A stack file is a few kilobytes; anything near a mebibyte is a mistake."""
MAX_DEPTH = 32
"""The shipped files nest 7 levels deep (config, models, a model, endpoint, variants, ...)."""
MAX_VALUES = 10_000
"""Values in the document with every alias expanded (keys count too); the shipped files have about 140."""

_CORE = "tag:yaml.org,2002:"
_PLAIN = "tag:mlops-platform,2024:plain"  # a plain scalar, to be resolved like yaml.v3 does
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"{_CORE}{name}" for name in ("str", "int", "float", "bool", "null"))
_SCALAR_TAGS = (_STR, _INT, _FLOAT, _BOOL, _NULL)
_COLLECTION_TAGS = {yaml.SequenceNode: f"{_CORE}seq", yaml.MappingNode: f"{_CORE}map"}

# yaml.v3 resolve.go: the plain scalars it looks up in a table, and the patterns it tries next.
_KEYWORDS: Mapping[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
# yaml.v3 tries a timestamp first for anything starting with four digits and a dash.
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?")
_INT_RE = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_INT_BASES = {"x": 16, "o": 8, "b": 2}


class ProjectError(Exception):
    """The project or stack files are missing or malformed (not a config validation problem).

    `deploy.py --offline` and the driver's preflight turn it into exit code 3.
    """


class StackFileError(ProjectError):
    """A project or stack file that cannot be read as the Pulumi CLI would read it.

    `str()` is the whole message, `<file>:<line>:<column>: <what is wrong and what to do>`.
    """

    def __init__(self, name: str, message: str, mark: yaml.Mark | None = None):
        self.name = name
        self.line = mark.line + 1 if mark is not None else None
        self.column = mark.column + 1 if mark is not None else None
        where = f"{name}:{self.line}:{self.column}" if mark is not None else name
        super().__init__(f"{where}: {message}")


def load(path: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML file, read strictly (see the module docstring)."""
    return parse(read_text(path), path.name)


def parse(text: str, name: str) -> dict[str, Any]:
    """The top-level mapping of YAML text; `name` is what error messages call the file."""
    node = compose(text, name)
    if node is None:
        return {}
    document = _Builder(name).build(node, 0)
    if not isinstance(document, dict):
        raise StackFileError(name, f"the file must be a mapping of `key: value` lines, not {_describe(document)}",
                             node.start_mark)
    return document


def load_config(path: Path) -> dict[str, Any]:
    """A stack file's `config` section as the Pulumi CLI hands it to the program.

    The CLI first reads each top-level value as a string (pkg config.Value.unmarshalValue), so a
    scalar reaches the program as the text written in the file (`True` stays "True", `1e3` stays
    "1e3", null is ""); only lists and mappings are data, passed on as JSON (`cli_json`).
    """
    text = read_text(path)
    root = compose(text, path.name)
    config = config_of(parse(text, path.name), path.name)
    config_node = _mapping_entry(root, "config") if isinstance(root, yaml.MappingNode) else None
    for key_node, value_node in config_node.value if isinstance(config_node, yaml.MappingNode) else ():
        if isinstance(value_node, yaml.ScalarNode):
            config[key_node.value] = "" if config[key_node.value] is None else value_node.value
    return config


def cli_json(value: Any) -> str:
    """`value` as JSON the way Go's encoding/json writes it for the CLI: a whole float is written
    without a fraction (100.0 -> 100), so the program reads it back as an integer."""
    return json.dumps(_whole_floats_as_ints(value))


def _whole_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_floats_as_ints(item) for item in value]
    return value


def config_of(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The `config` section of a stack file (empty when there is none)."""
    config = document.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise StackFileError(name, f"'config' must be a mapping of keys to values, not {_describe(config)}")
    return config


def read_text(path: Path) -> str:
    """A file's text: a regular file, at most MAX_BYTES, strict UTF-8."""
    name = path.name
    try:
        status = path.stat()
    except FileNotFoundError:
        raise StackFileError(name, f"{path} does not exist") from None
    except OSError as error:
        raise StackFileError(name, f"cannot read {path}: {error.strerror}") from None
    if stat.S_ISDIR(status.st_mode):
        raise StackFileError(name, f"{path} is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        # Opening a FIFO or a device would block or never end.
        raise StackFileError(name, f"{path} is not a regular file")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise StackFileError(name, f"cannot read {path}: {error.strerror}") from None
    if len(data) > MAX_BYTES:
        raise StackFileError(name, f"larger than {MAX_BYTES // 1024} KiB; a stack file is a few kilobytes")
    return decode(data, name)


def decode(data: bytes, name: str) -> str:
    """Strict UTF-8: the CLI reads UTF-8, and a Latin-1 file would otherwise turn into mojibake."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start)
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1)
        mark = yaml.Mark(name, error.start, line, column, None, None)
        raise StackFileError(name, f"not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as UTF-8",
                             mark) from None


class _Composer(Reader, Scanner, Parser, Composer, BaseResolver):
    """PyYAML's pure-Python parser and composer, without its YAML 1.1 type resolution.

    Plain scalars are marked `_PLAIN` and resolved by `_resolve_plain`; explicit tags are kept
    as written so `_Builder` can refuse the ones outside the core schema.
    """

    def __init__(self, text: str, name: str):
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        BaseResolver.__init__(self)
        self.depth = 0
        self.file_name = name

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)

    def compose_node(self, parent: Any, index: Any) -> yaml.Node:
        # The composer recurses once per level; stop long before Python's recursion limit.
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise StackFileError(self.file_name, f"nested deeper than {MAX_DEPTH} levels",
                                     self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def compose(text: str, name: str) -> yaml.Node | None:
    """The document's node graph (aliases shared, not expanded), or None for an empty file."""
    composer = None
    try:
        composer = _Composer(text, name)  # the reader checks every character here
        return composer.get_single_node()
    except yaml.reader.ReaderError as error:
        raise StackFileError(name, f"contains the character U+{error.character:04X}, which YAML does not allow "
                                   "in a file", _mark_at(text, error.position)) from None
    except yaml.MarkedYAMLError as error:
        message = ", ".join(part for part in (error.context, error.problem) if part)
        raise StackFileError(name, f"not valid YAML: {message}", error.problem_mark or error.context_mark) from None
    except RecursionError:
        raise StackFileError(name, f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        if composer is not None:
            composer.dispose()


def _mark_at(text: str, index: int) -> yaml.Mark:
    line = text.count("\n", 0, index)
    column = index - (text.rfind("\n", 0, index) + 1)
    return yaml.Mark("", index, line, column, None, None)


class _Builder:
    """Turns a node graph into plain Python values, expanding aliases within a budget."""

    def __init__(self, name: str):
        self.name = name
        self.values = 0
        self.open: set[int] = set()  # nodes being built: an alias to one of them is a cycle

    def refuse(self, message: str, node: yaml.Node) -> StackFileError:
        return StackFileError(self.name, message, node.start_mark)

    def build(self, node: yaml.Node, depth: int) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise self.refuse(f"more than {MAX_VALUES} values once aliases (*name) are expanded; "
                              "write the values out instead of nesting aliases", node)
        if depth > MAX_DEPTH:
            raise self.refuse(f"nested deeper than {MAX_DEPTH} levels once aliases (*name) are expanded", node)
        if id(node) in self.open:
            raise self.refuse("an alias (*name) refers to a value that contains it", node)
        self.open.add(id(node))
        try:
            return _BUILDERS[type(node)](self, node, depth)
        finally:
            self.open.discard(id(node))

    def scalar(self, node: yaml.ScalarNode, depth: int) -> Any:
        if node.tag == _PLAIN:
            return self.plain(node)
        if node.tag not in _SCALAR_TAGS:
            raise self.refuse(_tag_message(node.tag), node)
        if node.tag == _STR:
            return node.value
        value = self.plain(node)  # an explicit core tag: the text must be of that type
        wanted = {_INT: (int,), _FLOAT: (int, float), _BOOL: (bool,), _NULL: (type(None),)}[node.tag]
        if isinstance(value, bool) and bool not in wanted or not isinstance(value, wanted):
            raise self.refuse(f"{node.value!r} cannot be read as {_short(node.tag)}", node)
        return float(value) if node.tag == _FLOAT else value

    def plain(self, node: yaml.ScalarNode) -> Any:
        text = node.value
        if _DATE_RE.fullmatch(text):
            raise self.refuse(f"unquoted date {text}: YAML reads it as a timestamp, not as text (inside a list or "
                              f"mapping the Pulumi CLI passes it on as an RFC 3339 time); quote it ('{text}')", node)
        if text == "<<":
            raise self.refuse("merge keys (<<) are not supported in stack files; write the keys out", node)
        return resolve_plain(text)

    def sequence(self, node: yaml.SequenceNode, depth: int) -> list[Any]:
        self.check_collection_tag(node)
        return [self.build(item, depth + 1) for item in node.value]

    def mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        self.check_collection_tag(node)
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.build(key_node, depth + 1)
            if not isinstance(key, str):
                raise self.refuse(f"keys must be strings, not {_describe(key)}; quote the key", key_node)
            if key in first_seen:
                raise self.refuse(f"duplicate key {key!r} (first at line {first_seen[key].start_mark.line + 1}); "
                                  "YAML does not allow a key twice in one mapping", key_node)
            first_seen[key] = key_node
            result[key] = self.build(value_node, depth + 1)
        return result

    def check_collection_tag(self, node: yaml.Node) -> None:
        if node.tag != _COLLECTION_TAGS[type(node)]:
            raise self.refuse(_tag_message(node.tag), node)


_BUILDERS: Mapping[type, Callable[[_Builder, Any, int], Any]] = {
    yaml.ScalarNode: _Builder.scalar,
    yaml.SequenceNode: _Builder.sequence,
    yaml.MappingNode: _Builder.mapping,
}


def resolve_plain(text: str) -> Any:
    """A plain scalar's value as yaml.v3 resolves it (dates are the caller's business)."""
    if text in _KEYWORDS:
        return _KEYWORDS[text]
    if not text or text[0] not in "+-.0123456789":
        return text
    digits = text.replace("_", "") if text[0] != "." else text
    if _INT_RE.fullmatch(digits):
        value = _int(digits)
        if -(2**63) <= value < 2**64:  # yaml.v3 parses int64, then uint64, then tries a float
            return value
    if _FLOAT_RE.fullmatch(digits):
        return float(digits)
    return text


def _int(digits: str) -> int:
    sign = -1 if digits[0] == "-" else 1
    body = digits.lstrip("+-")
    if len(body) > 1 and body[0] == "0":
        base = _INT_BASES.get(body[1].lower(), 8)
        return sign * int(body[2:] if base != 8 or body[1] in "oO" else body[1:], base)
    return sign * int(body)


def _short(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _tag_message(tag: str) -> str:
    return (f"the tag {_short(tag)} is not allowed: stack files hold plain values (text, numbers, true/false, "
            "null, lists and mappings)")


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "the boolean true", False: "the boolean false"}[value]
    return f"{'text' if isinstance(value, str) else 'a number'} ({value!r})"


def set_config_values(text: str, name: str, values: Mapping[str, str], project: str) -> str:
    """`text` with the `config` entries `values` set to those strings, everything else untouched.

    An entry that exists (as `<project>:key` or bare `key`) has just its value replaced (it must
    be a scalar); a missing one is added as the first line of the `config` mapping, which must be
    in block style. Comments, formatting and the keys the Pulumi CLI writes (`encryptionsalt`, ...)
    stay as they are.
    """
    root = compose(text, name)
    config = _mapping_entry(root, "config") if isinstance(root, yaml.MappingNode) else None
    if not isinstance(config, yaml.MappingNode) or config.flow_style or not config.value:
        raise StackFileError(name, "has no block-style 'config' mapping to set values in")
    first_key = config.value[0][0]
    indent = " " * first_key.start_mark.column
    line_start = first_key.start_mark.index - first_key.start_mark.column
    replacements: list[tuple[int, int, str]] = []
    added = ""
    for key, value in values.items():
        quoted = "'" + value.replace("'", "''") + "'"
        node = _mapping_entry(config, key, key.removeprefix(f"{project}:"))
        if node is None:
            added += f"{indent}{key}: {quoted}\n"
        elif isinstance(node, yaml.ScalarNode):
            replacements.append((node.start_mark.index, node.end_mark.index, quoted))
        else:
            raise StackFileError(name, f"{key} must be a plain value", node.start_mark)
    for start, end, replacement in sorted(replacements, reverse=True) + [(line_start, line_start, added)]:
        text = text[:start] + replacement + text[end:]
    parse(text, name)  # the result must still read cleanly
    return text


def _mapping_entry(node: yaml.MappingNode, *keys: str) -> yaml.Node | None:
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value in keys:
            return value_node
    return None


# -- editing a nested value ---------------------------------------------------------------------
# `automation/models.py` writes `endpoint.variants` of one model, deep inside `config`, and must
# leave everything else as the operator wrote it (comments, order, quoting, the CLI's own keys).

@dataclass(frozen=True)
class ItemWith:
    """A step of a `set_value` path into a list: the item (a mapping) whose `key` is `value`."""

    key: str
    value: str


PathStep = str | tuple[str, ...] | ItemWith
"""A mapping key; the spellings of one key, the first written when it is missing
(`("mlops-platform:models", "models")`); or the list item `ItemWith("name", "churn")`."""

# Text that yaml.v3 reads back as the same text without quotes, in block and flow context alike.
_PLAIN_SAFE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def set_value(text: str, name: str, path: tuple[PathStep, ...], value: Any) -> str:
    """`text` with the value at `path` set to `value` (plain data); the rest of the file untouched.

    A value that is there is replaced where it stands, in block style at its own indentation when
    it was a block (comments inside it go with it), in flow style when it was flow or a scalar.
    Keys missing at the end of the path are added after the last entry of the deepest block
    mapping that exists; a missing list item is an error. The edited text must read back (with
    `parse`) as `value` at `path`, or StackFileError says so and nothing is returned.
    """
    node = compose(text, name)
    if node is None:
        raise StackFileError(name, "is empty: there is nothing to set a value in")
    for index, step in enumerate(path):
        child = _path_child(node, step, name)
        if child is None:
            edited = _add_entries(text, name, node, path[index:], value)
            break
        node = child
    else:
        edited = _replace_node(text, node, value)
    if _value_at(parse(edited, name), path) != value:
        raise StackFileError(name, f"setting {_describe_path(path)} did not read back as written; edit it by hand")
    return edited


def _path_child(node: yaml.Node, step: PathStep, name: str) -> yaml.Node | None:
    if isinstance(step, ItemWith):
        if not isinstance(node, yaml.SequenceNode):
            raise StackFileError(name, f"expected a list holding an item with {step.key}: {step.value}", node.start_mark)
        for item in node.value:
            found = _mapping_entry(item, step.key) if isinstance(item, yaml.MappingNode) else None
            if isinstance(found, yaml.ScalarNode) and found.value == step.value:
                return item
        raise StackFileError(name, f"has no item with {step.key}: {step.value} in this list", node.start_mark)
    if not isinstance(node, yaml.MappingNode):
        raise StackFileError(name, f"expected a mapping holding {_key_of(step)!r}", node.start_mark)
    return _mapping_entry(node, *((step,) if isinstance(step, str) else step))


def _add_entries(text: str, name: str, mapping: yaml.Node, missing: tuple[PathStep, ...], value: Any) -> str:
    """`value` under the keys `missing`, as new last entries of the block `mapping`."""
    if any(isinstance(step, ItemWith) for step in missing):
        raise StackFileError(name, f"has no {_describe_path(missing)}", mapping.start_mark)
    if mapping.flow_style or not mapping.value:
        raise StackFileError(name, f"cannot add {_key_of(missing[0])!r} to a mapping in flow style ({{...}}); "
                                   "write it in block style (one `key: value` a line)", mapping.start_mark)
    for step in reversed(missing):
        value = {_key_of(step): value}
    end = _content_end(text, mapping)
    newline = text.find("\n", end)
    insert_at = len(text) if newline == -1 else newline + 1
    lines = "\n".join(_block_lines(value, mapping.start_mark.column)) + "\n"
    return text[:insert_at] + ("" if newline != -1 else "\n") + lines + text[insert_at:]


def _replace_node(text: str, node: yaml.Node, value: Any) -> str:
    start, end = node.start_mark.index, _content_end(text, node)
    block = isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and not node.flow_style and node.value
    column = node.start_mark.column
    replacement = "\n".join(_block_lines(value, column))[column:] if block else _flow(value)
    return text[:start] + replacement + text[end:]


def _content_end(text: str, node: yaml.Node) -> int:
    """Where `node`'s own text ends: a block collection's end mark lies past trailing comments."""
    if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        return _content_end(text, last[1] if isinstance(node, yaml.MappingNode) else last)
    end = node.end_mark.index
    while end > node.start_mark.index and text[end - 1] in " \t\r\n":  # a block scalar's end includes its newline
        end -= 1
    return end


def _block_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict) and value:
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines += [f"{pad}{_scalar_text(key)}:", *_block_lines(item, indent + 2)]
            else:
                lines.append(f"{pad}{_scalar_text(key)}: {_flow(item)}")
        return lines
    if isinstance(value, list) and value:
        lines = []
        for item in value:
            if isinstance(item, (dict, list)) and item:
                inner = _block_lines(item, indent + 2)
                lines += [f"{pad}- {inner[0][indent + 2:]}", *inner[1:]]
            else:
                lines.append(f"{pad}- {_flow(item)}")
        return lines
    return [pad + _flow(value)]


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar_text(key)}: {_flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return _scalar_text(value)


def _scalar_text(value: Any) -> str:
    """A scalar as yaml.v3 reads it back: text plain only when it would not read as anything else."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written to a stack file")
        return repr(value)
    text = str(value)
    if _PLAIN_SAFE_RE.fullmatch(text) and resolve_plain(text) == text and not _DATE_RE.fullmatch(text):
        return text
    # Double-quoted with JSON's escapes, which YAML's double quotes share; every character escaped
    # when some cannot stand in a YAML file as they are (control characters, U+FFFE...).
    return json.dumps(text, ensure_ascii=not text.isprintable())


def _value_at(document: Any, path: tuple[PathStep, ...]) -> Any:
    node = document
    try:
        for step in path:
            if isinstance(step, ItemWith):
                node = next(item for item in node if isinstance(item, dict) and item.get(step.key) == step.value)
            else:
                node = next(node[key] for key in ((step,) if isinstance(step, str) else step) if key in node)
    except (StopIteration, TypeError):
        return _MISSING_VALUE
    return node


_MISSING_VALUE = object()


def _key_of(step: PathStep) -> str:
    return step if isinstance(step, str) else step.value if isinstance(step, ItemWith) else step[0]


def _describe_path(path: tuple[PathStep, ...]) -> str:
    return ".".join(f"[{step.key}={step.value}]" if isinstance(step, ItemWith) else _key_of(step) for step in path)
