"""Safe YAML loading that remembers where every value was written.

:func:`load_yaml` parses a YAML text with :class:`yaml.SafeLoader` into plain Python values
(dicts, lists, str, int, float, bool, None) and a :class:`LineMap` from each value's path,
a tuple of mapping keys and list indices such as ``("streams", 0, "rate")``, to its 1-based
line. Unlike PyYAML's own loaders it rejects duplicate keys in a mapping. Every problem is
raised as a one-line :class:`~netsim.errors.ScenarioError` naming the file and the line.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ScenarioError

__all__ = ["DocPath", "LineMap", "load_yaml", "format_path"]

DocPath = tuple[Hashable, ...]
"""A value's place in a document: mapping keys and list indices, outermost first."""

MAX_VALUES = 200_000
"""Most values a document may expand to (guards against YAML alias bombs)."""

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class LineMap:
    """Where each value of a document was written (1-based lines).

    ``key_lines`` holds the line of the key of each mapping entry, ``value_lines`` the line
    where each value starts, ``end_lines`` the last line of each value's content, and
    ``collections`` the paths whose value is a mapping or a list.
    """

    key_lines: dict[DocPath, int] = field(default_factory=dict)
    value_lines: dict[DocPath, int] = field(default_factory=dict)
    end_lines: dict[DocPath, int] = field(default_factory=dict)
    collections: set[DocPath] = field(default_factory=set)

    def deepest(self, path: DocPath) -> DocPath:
        """The longest prefix of ``path`` that names a value in the document."""
        for size in range(len(path), 0, -1):
            if path[:size] in self.value_lines:
                return path[:size]
        return ()

    def line(self, path: DocPath, at_key: bool = False) -> int | None:
        """The line to report for ``path``.

        A key's own line for ``at_key`` and for mappings and lists (``jitter:`` rather than
        the first line of its block); the value's line for a scalar. A path that is not in
        the document (a missing field) reports the line of its deepest existing parent.
        """
        found = self.deepest(path)
        if found != path:
            at_key = True
        if (at_key or found in self.collections) and found in self.key_lines:
            return self.key_lines[found]
        return self.value_lines.get(found)

    def end_line(self, path: DocPath) -> int | None:
        """The last line of the mapping or list at the deepest existing prefix of ``path``."""
        found = self.deepest(path)
        return self.end_lines.get(found, self.value_lines.get(found))

    def rebased(self, prefix: DocPath, top_key: Hashable) -> LineMap:
        """The entries under ``(top_key, ...)``, moved under ``prefix + (top_key, ...)``."""
        out = LineMap()
        for mine, theirs in (
            (out.key_lines, self.key_lines),
            (out.value_lines, self.value_lines),
            (out.end_lines, self.end_lines),
        ):
            mine.update({prefix + p: v for p, v in theirs.items() if p[:1] == (top_key,)})
        out.collections = {prefix + p for p in self.collections if p[:1] == (top_key,)}
        return out

    def update(self, other: LineMap) -> None:
        """Add ``other``'s entries to this map."""
        self.key_lines.update(other.key_lines)
        self.value_lines.update(other.value_lines)
        self.end_lines.update(other.end_lines)
        self.collections |= other.collections


def format_path(path: DocPath) -> str:
    """``("streams", 0, "rate")`` -> ``'streams[0].rate'``.

    Keys that are not plain names (letters, digits, ``_`` and ``-``) are written in
    brackets, ``network.links['wan.1'].delay``, so that the path stays unambiguous.
    """
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and part and part.replace("_", "").replace("-", "").isalnum():
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Builder:
    """Turns a composed YAML node tree into plain values, recording lines."""

    def __init__(self, loader: yaml.SafeLoader, filename: str) -> None:
        self.loader = loader
        self.filename = filename
        self.count = 0
        self.active: set[int] = set()

    def fail(self, message: str, node: yaml.Node, path: DocPath) -> ScenarioError:
        return ScenarioError(message, self.filename, _line(node), format_path(path))

    def build(self, node: yaml.Node, path: DocPath, lines: LineMap) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise self.fail(
                f"the document expands to more than {MAX_VALUES} values (nested YAML aliases?)",
                node,
                path,
            )
        lines.value_lines[path] = _line(node)
        if isinstance(node, yaml.ScalarNode):
            lines.end_lines[path] = max(_line(node), node.end_mark.line + 1)
            return self.loader.construct_object(node, deep=True)
        if id(node) in self.active:
            raise self.fail("a YAML alias refers to a mapping or list that contains it", node, path)
        lines.collections.add(path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise self.fail(f"unsupported YAML tag {node.tag!r} on a list", node, path)
                value: Any = [self.build(x, (*path, i), lines) for i, x in enumerate(node.value)]
                children = [(*path, i) for i in range(len(value))]
            else:
                if node.tag != _MAP_TAG:
                    raise self.fail(f"unsupported YAML tag {node.tag!r} on a mapping", node, path)
                value = self.build_mapping(node, path, lines)
                children = [(*path, key) for key in value]
        finally:
            self.active.discard(id(node))
        # The last line of the collection's content (a block's end mark is the next token).
        ends = [lines.end_lines.get(child, 0) for child in children]
        lines.end_lines[path] = max([_line(node), *ends])
        return value

    def build_mapping(self, node: yaml.MappingNode, path: DocPath, lines: LineMap) -> dict:
        result: dict[Hashable, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                message = "a mapping key must be a plain value, not a list or mapping"
                raise self.fail(message, key_node, path)
            key = self.loader.construct_object(key_node, deep=True)
            if key in result:
                first = lines.key_lines[(*path, key)]
                raise self.fail(
                    f"duplicate key {key!r} (first written on line {first})",
                    key_node,
                    (*path, key),
                )
            lines.key_lines[(*path, key)] = _line(key_node)
            result[key] = self.build(value_node, (*path, key), lines)
        for merge in merges:  # YAML merge keys ('<<: *defaults'): explicit keys win
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise self.fail("'<<' must merge a mapping or a list of mappings", merge, path)
                merged_lines = LineMap()
                merged = self.build(source, (), merged_lines)
                for key, value in merged.items():
                    if key not in result:
                        result[key] = value
                        lines.update(merged_lines.rebased(path, key))
        return result


def load_yaml(text: str, filename: str) -> tuple[Any, LineMap]:
    """Parse one YAML document safely, keeping the line of every value.

    Parameters
    ----------
    text
        The YAML text.
    filename
        The name used in error messages.

    Returns
    -------
    (document, lines)
        The document as plain Python values (``None`` for an empty text) and its
        :class:`LineMap`.

    Raises
    ------
    ScenarioError
        On a YAML syntax error, an unsupported tag, a duplicate key or a recursive alias.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, LineMap(value_lines={(): 1})
        lines = LineMap()
        document = _Builder(loader, filename).build(node, (), lines)
        return document, lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not valid YAML"
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(f"invalid YAML: {problem}", filename, line) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise ScenarioError(
            f"invalid YAML: character {exc.character!r} is not allowed", filename, line
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"invalid YAML: {exc}", filename, None) from None
    except RecursionError:
        raise ScenarioError("invalid YAML: the document is nested too deeply", filename) from None
    finally:
        loader.dispose()
