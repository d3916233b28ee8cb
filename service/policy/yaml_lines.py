"""YAML reading that remembers the line of every mapping key, so problems can name it.

Floats are read as Decimal (a policy never holds a float) and duplicate keys are reported.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import yaml


class LineDict(dict):
    """A mapping that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict
    duplicate_keys: list

    def line_of(self, key: object) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # the C parser when built
    def construct_object(self, node, deep=False):
        """A value YAML's own constructors cannot make (`2024-02-30`, `!!int abc`) is a
        problem at its line, like a syntax error, not a Python exception."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError) as error:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {error}", node.start_mark) from None


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    result.duplicate_keys = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | bool):
            key = str(key)
        if key in result:
            result.duplicate_keys.append((key, key_node.start_mark.line + 1))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _decimal(loader: _Loader, node: yaml.ScalarNode) -> Decimal | str:
    text = loader.construct_scalar(node)
    try:
        value = Decimal(str(text).replace("_", ""))
    except InvalidOperation:
        return str(text)
    return value if value.is_finite() else str(text)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)


def load_yaml(text: str):
    """Parse YAML text; raises yaml.YAMLError (with a mark) on a syntax error."""
    return yaml.load(text, Loader=_Loader)
